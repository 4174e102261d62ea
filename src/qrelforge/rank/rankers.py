"""Downstream rankers trained on a set of training labels: what the labels are worth to a search engine.

- ``cross-encoder`` / ``bi-encoder``: a student of that kind (from the packaged MiniLM, or ``base``) trained on the
  labels by ``train_student``; a candidate's score is its expected grade.
- ``lightgbm``: LambdaMART (LightGBM's ``lambdarank``) over cheap features: the BM25 score (raw, and divided by
  the best of the query's candidates, which transfers across collections), the query's and the doc's length in
  words, and, with ``feature_model``, a student's expected grade.

Every training set gets the same number of optimizer steps (or boosting rounds), batch size and seed, so that the
labels are the only difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Dataset
from ..errors import ConfigError
from ..evaluate.ranking import Run
from ..io.files import write_atomic
from ..records import Pair
from ..train.data import Example, TrainingSet
from .augment import TrainingLabel, provenance
from .config import RANKERS, RankerConfig

LIGHTGBM_FILE = "lightgbm.txt"


@dataclass(frozen=True)
class TrainedRanker:
    kind: str
    folder: Path
    losses: list[float]  # per batch (neural: cross-entropy); per round (lightgbm: 1 - training nDCG@10)


def training_set(dataset: Dataset, labels: Sequence[TrainingLabel]) -> TrainingSet:
    """The labels as training examples over ``dataset``'s texts (every id must be in the dataset)."""
    missing = [t for t in labels if t.query_id not in dataset.queries or t.doc_id not in dataset.docs]
    if missing:
        raise ConfigError(
            f"{len(missing)} training labels name ids that {dataset.name} does not have, e.g. "
            f"{missing[0].query_id}/{missing[0].doc_id}"
        )
    examples = [
        Example(f"{dataset.name}/{t.query_id}", t.doc_id, dataset.queries[t.query_id], dataset.docs[t.doc_id], t.grade)
        for t in labels
    ]
    return TrainingSet(examples, tuple(dict.fromkeys(t.judge for t in labels)), (dataset.name,), provenance(labels))


def train_ranker(
    dataset: Dataset, labels: Sequence[TrainingLabel], out: str | Path, config: RankerConfig, progress: bool = True
) -> TrainedRanker:
    """Train a ranker of ``config.kind`` on ``labels`` (texts from ``dataset``) into the folder ``out``."""
    if config.kind not in RANKERS:
        raise ConfigError(f"ranker {config.kind!r} is not one of {RANKERS}")
    if not labels:
        raise ConfigError("a ranker needs at least one training label")
    out = Path(out)
    if config.kind == "lightgbm":
        return _train_lightgbm(dataset, labels, out, config)
    from ..train.config import TrainConfig
    from ..train.loop import train_student

    epochs = math.ceil(config.steps * config.batch_size / len(labels)) + 1  # enough passes for the steps
    result = train_student(
        training_set(dataset, labels),
        out,
        TrainConfig(
            student=config.kind,
            base=config.base,
            epochs=epochs,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            max_length=config.max_length,
            seed=config.seed,
            max_steps=config.steps,
            val_fraction=0.1,
        ),
        progress,
    )
    return TrainedRanker(config.kind, out, result.losses)


def rerank(
    ranker: TrainedRanker, dataset: Dataset, candidates: Mapping[str, Sequence[str]], config: RankerConfig
) -> Run:
    """Score every query's candidates (doc ids of ``dataset``)."""
    pairs = [Pair(q, d) for q, docs in candidates.items() for d in docs]
    if ranker.kind == "lightgbm":
        import lightgbm

        booster = lightgbm.Booster(model_file=str(ranker.folder / LIGHTGBM_FILE))
        scores = booster.predict(features(dataset, pairs, config.feature_model))
    else:
        scores = expected_grades(str(ranker.folder), dataset, pairs)
    run: dict[str, dict[str, float]] = {}
    for pair, score in zip(pairs, scores):
        run.setdefault(pair.query_id, {})[pair.doc_id] = float(score)
    return run


def expected_grades(model_dir: str, dataset: Dataset, pairs: Sequence[Pair]) -> np.ndarray:
    """A student's expected grade of each pair: a ranking score finer than its grade."""
    from ..judges.base import Batch
    from ..students.student import load_student

    return load_student(model_dir).expected_grades(Batch(pairs, dataset))


def features(dataset: Dataset, pairs: Sequence[Pair], feature_model: str | None) -> np.ndarray:
    """One row per pair: BM25 score (over ``dataset``'s docs), BM25 / the query's best, query words, doc words
    [, student expected grade]."""
    from ..synthetic.index import BM25Index

    index = BM25Index.build(dataset.docs)
    by_query: dict[str, list[int]] = {}
    for i, pair in enumerate(pairs):
        by_query.setdefault(pair.query_id, []).append(i)
    bm25, relative = np.zeros(len(pairs)), np.zeros(len(pairs))
    for query_id, rows in by_query.items():
        bm25[rows] = index.scores(dataset.queries[query_id], [pairs[i].doc_id for i in rows])
        relative[rows] = bm25[rows] / max(bm25[rows].max(), 1e-9)
    columns: list[Any] = [
        bm25,
        relative,
        [len(dataset.queries[p.query_id].split()) for p in pairs],
        [len(dataset.docs[p.doc_id].split()) for p in pairs],
    ]
    if feature_model:
        columns.append(expected_grades(feature_model, dataset, pairs))
    return np.column_stack(columns).astype(float)


def _train_lightgbm(
    dataset: Dataset, labels: Sequence[TrainingLabel], out: Path, config: RankerConfig
) -> TrainedRanker:
    import lightgbm

    ordered = sorted(labels, key=lambda t: t.query_id)  # LightGBM wants each query's rows together
    pairs = [t.pair for t in ordered]
    groups = [len(list(g)) for _, g in groupby(t.query_id for t in ordered)]
    params = {
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [10],
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": 5,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
    data = lightgbm.Dataset(features(dataset, pairs, config.feature_model), [t.grade for t in ordered], group=groups)
    curve: dict[str, Any] = {}
    booster = lightgbm.train(
        params,
        data,
        config.steps,
        valid_sets=[data],
        valid_names=["training"],
        callbacks=[lightgbm.record_evaluation(curve)],
    )
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / LIGHTGBM_FILE, booster.model_to_string())
    return TrainedRanker("lightgbm", out, [1 - v for v in curve["training"]["ndcg@10"]])
