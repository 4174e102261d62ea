"""The student inference engine and its Ray backend: same results whatever the batching, engine or failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qrelforge import (
    Batch,
    ConfigError,
    EngineSettings,
    TrainConfig,
    load_dataset,
    load_student,
    teacher_examples,
    train_student,
)
from qrelforge.students.base import numeric_format
from qrelforge.students.engine import length_batches


@pytest.fixture(scope="module")
def varied_base(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Path:
    """The tiny random BERT with large initial weights, so that its outputs differ clearly from pair to pair."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("varied-bert")
    config = BertConfig.from_pretrained(tiny_base)
    config.initializer_range = 0.5
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_base).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", params=["bi-encoder", "cross-encoder"])
def student(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, varied_base: Path) -> Path:
    """A student of each kind, trained for a few steps on a tiny random BERT."""
    dataset = load_dataset("dl20-demo")
    config = TrainConfig(
        student=request.param, base=str(varied_base), epochs=1, batch_size=16, max_length=64, max_steps=5
    )
    return train_student(
        teacher_examples([dataset]), tmp_path_factory.mktemp("engine") / "student", config, progress=False
    ).model_dir


@pytest.fixture(scope="module")
def demo_pairs() -> list:
    return load_dataset("dl20-demo").pairs[:300]


def test_length_batches_fit_the_token_budget() -> None:
    lengths = [5, 50, 7, 300, 12, 12, 49, 1]
    batches = length_batches(lengths, 100)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every pair once
    order = [lengths[i] for b in batches for i in b]
    assert order == sorted(lengths)  # sorted by length, so padding is small
    assert all(len(b) * max(lengths[i] for i in b) <= 100 for b in batches if len(b) > 1)
    assert [3] in batches  # a pair longer than the budget gets a batch of its own


def test_bad_precision_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="precision 'fp8'"):
        EngineSettings(precision="fp8")
    with pytest.raises(ConfigError, match="CPU only"):
        numeric_format("int8", "cuda")
    with pytest.raises(ConfigError, match="positive"):
        EngineSettings(tokens_per_batch=0)


def test_the_bf16_verdict_is_measured_once_per_machine_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`precision auto` follows a measurement; kept in the user cache, a busy machine cannot flip it between runs
    (which would change a student's fingerprint, so a rerun would label everything again)."""
    import json

    from qrelforge.students import base

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    kept = tmp_path / "qrelforge" / base.FORMATS_FILE
    base.bf16_is_fast.cache_clear()
    measured = base.bf16_is_fast("cpu")
    record = json.loads(kept.read_text())
    assert list(record.values()) == [measured] and "torch" in next(iter(record))  # one machine, one verdict
    kept.write_text(json.dumps({k: not v for k, v in record.items()}))  # as if another run had measured otherwise
    base.bf16_is_fast.cache_clear()
    assert base.bf16_is_fast("cpu") is (not measured)  # the kept verdict, not a new measurement
    assert numeric_format("auto", "cpu") == ("fp32" if measured else "bf16")
    kept.write_text("{not json")
    base.bf16_is_fast.cache_clear()
    assert isinstance(base.bf16_is_fast("cpu"), bool) and len(json.loads(kept.read_text())) == 1  # measured again
    base.bf16_is_fast.cache_clear()  # later tests measure (or read) in the real cache again
    monkeypatch.undo()
    base.bf16_is_fast.cache_clear()


def test_results_do_not_depend_on_batching(student: Path, demo_pairs: list) -> None:
    dataset = load_dataset("dl20-demo")
    runs = [
        list(load_student(student, settings).judge(Batch(demo_pairs, dataset)))
        for settings in (
            EngineSettings("fp32", tokens_per_batch=1, chunk_pairs=1000),  # one pair per forward pass
            EngineSettings("fp32", tokens_per_batch=20000, chunk_pairs=37),  # big batches, many tokenizer chunks
            EngineSettings("fp32", tokens_per_batch=777, chunk_pairs=64, threads=1),
        )
    ]
    first = runs[0]
    assert [j.pair for j in first] == demo_pairs
    assert np.std([j.probs for j in first], axis=0).max() > 0.01  # outputs vary from pair to pair: a real test
    for other in runs[1:]:
        assert [j.pair for j in other] == demo_pairs
        assert np.allclose([j.probs for j in first], [j.probs for j in other], atol=1e-4)  # fp32, other sums
        assert [j.grade for j in first] == [j.grade for j in other]


def test_a_measured_budget_is_one_of_the_candidates_and_changes_no_result(student: Path, demo_pairs: list) -> None:
    """The GPU path's choice of tokens per batch, run on the CPU: it times each candidate and keeps one."""
    from qrelforge.students.engine import measured_budget
    from qrelforge.students.registry import load_model

    dataset = load_dataset("dl20-demo")
    model = load_model(student, "fp32", "cpu")
    features = model.encode(
        [dataset.queries[p.query_id] for p in demo_pairs], [dataset.docs[p.doc_id] for p in demo_pairs], 64
    )
    assert measured_budget(model, features, False, candidates=(64, 2048)) in (64, 2048)
    default = list(load_student(student, EngineSettings("fp32")).judge(Batch(demo_pairs, dataset)))
    assert EngineSettings().tokens_per_batch is None  # the CPU's measured 4096, or a GPU's measurement
    fixed = list(load_student(student, EngineSettings("fp32", tokens_per_batch=4096)).judge(Batch(demo_pairs, dataset)))
    assert [j.probs for j in default] == [j.probs for j in fixed]
