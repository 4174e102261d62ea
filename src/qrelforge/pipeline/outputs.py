"""Where the pipeline's stages leave their outputs, and how a later stage reads them back."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from ..datasets import Dataset, load_dataset
from ..errors import ConfigError
from ..io.files import jsonl_objects
from ..records import Pair
from .config import PipelineConfig


def synthetic_dataset(config: PipelineConfig, out: Path, grades: dict[Pair, int] | None = None) -> Dataset:
    """The generated queries over the corpus docs, with ``grades`` (the teacher's) as qrels."""
    queries = {row["query_id"]: row["text"] for row in read_jsonl(out / "generate" / "queries.jsonl")}
    return Dataset("synthetic", queries=queries, docs=load_dataset(config.corpus).docs, qrels=grades or {})


def candidate_pairs(out: Path) -> list[Pair]:
    return [Pair(row["query_id"], row["doc_id"]) for row in read_jsonl(out / "mine" / "candidates.jsonl")]


def teacher_store_path(out: Path) -> Path:
    """Where every teacher answer of this output folder is kept, whatever stage asked for it."""
    return out / "judgments.jsonl"


def human_sample(config: PipelineConfig) -> tuple[Dataset, list[Pair]]:
    if not config.evaluate.dataset:
        raise ConfigError("the evaluate stage needs a human-labeled dataset (evaluate: {dataset: DIR})")
    human = load_dataset(config.evaluate.dataset)
    pairs = human.pairs
    if config.evaluate.pairs and config.evaluate.pairs < len(pairs):
        pairs = sorted(random.Random(config.evaluate.seed).sample(pairs, config.evaluate.pairs))
    return human, pairs


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a stage's JSONL output, in order."""
    return [obj for _, obj in jsonl_objects(path, f"the records of {path.parent.name}")]


def count(values: list[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))
