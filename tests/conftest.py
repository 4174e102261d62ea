"""Shared fixtures: tiny dataset folders written on the fly, and a tiny random BERT as a fast student base."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qrelforge import load_dataset

DATA = Path(__file__).parent / "data"


def write_dataset(folder: Path, queries: dict[str, str], docs: dict[str, str], qrels: list[str]) -> Path:
    """A dataset folder in the shared format; ``qrels`` are raw lines, so tests can write bad ones."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "queries.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in queries.items()))
    (folder / "docs.jsonl").write_text("".join(json.dumps({"doc_id": d, "text": t}) + "\n" for d, t in docs.items()))
    (folder / "qrels.txt").write_text("".join(line + "\n" for line in qrels))
    return folder


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    """Eight real TREC DL 2020 queries with 12 judged pairs each (the 4 best graded, 8 more), from the demo subset."""
    demo = load_dataset("dl20-demo")
    query_ids = sorted(demo.queries)[:8]
    pairs = []
    for q in query_ids:
        pool = sorted((p for p in demo.pairs if p.query_id == q), key=lambda p: -demo.qrels[p])
        pairs += pool[:4] + pool[-8:]
    return write_dataset(
        tmp_path / "small",
        {q: demo.queries[q] for q in query_ids},
        {p.doc_id: demo.docs[p.doc_id] for p in pairs},
        [f"{p.query_id} 0 {p.doc_id} {demo.qrels[p]}" for p in pairs],
    )


def tiny_bert(folder: Path, layers: int = 2, **settings: float) -> Path:
    """A ``layers``-block, 32-wide random BERT with the real MiniLM tokenizer in ``folder`` (``settings``: more
    BertConfig fields)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from qrelforge.students.encoders import default_base

    tokenizer = AutoTokenizer.from_pretrained(default_base())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        **settings,
    )
    with torch.random.fork_rng():  # the same weights in every session, whatever ran before
        torch.manual_seed(0)
        BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide random BERT with the real MiniLM tokenizer: trains and labels in a second."""
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_student(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bi-encoder student on the tiny BERT, a few fp32 steps on 8 demo queries: real folders, seconds to make."""
    from qrelforge import TrainConfig, teacher_examples, train_student

    demo = load_dataset("dl20-demo")
    config = TrainConfig(base=str(tiny_base), max_steps=4, max_length=64, batch_size=16, precision="fp32")
    return train_student(
        teacher_examples([demo.subset(sorted(demo.queries)[:8])]),
        tmp_path_factory.mktemp("tiny-student") / "student",
        config,
        progress=False,
    ).model_dir


def killed_once(actor: type, marker: Path) -> type:
    """A Ray labeling actor class that kills its own process (as kill -9 would) in the middle of the first batch any
    actor gets; ``marker`` says it happened."""

    class KilledOnce(actor):  # type: ignore[misc, valid-type]
        def __call__(self, work: Any) -> Any:
            if not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)
            return super().__call__(work)

    return KilledOnce


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A local Ray cluster with 2 CPUs, shared by a module's tests (the labeling functions leave it running)."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'qrelforge[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()
