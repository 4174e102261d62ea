"""Label pairs with a student across a Ray cluster (Ray Data): actors hold the model, batches flow through them.

Each actor loads the student once and scores its batches with the local engine's ``score_texts``, so tokenizing and
scoring have one implementation. The driver streams the results back (ids and grade probabilities are small), writes
each batch as a Parquet shard and appends its judgments to the judgment store: an interrupted run resumes from the
store (and from shards written before the store was), and no pair is labeled twice. Ray restarts a killed actor and
retries its batch, up to ``RayOptions.retries`` times: a batch that kills every actor it meets stops the run with
Ray's error instead of looping; what was stored so far is kept, and the rerun resumes.

>>> from qrelforge import RayOptions, label_with_ray
>>> run = label_with_ray("student", dataset, dataset.pairs, store, "labels.txt.shards", options=RayOptions(address="auto"))  # doctest: +SKIP
>>> # (skipped: it needs a trained student and a Ray cluster; tests/test_ray.py runs it on a local one)
"""
from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Dataset
from ..errors import ConfigError
from ..io.parquet import write_parquet_atomic
from ..io.store import JudgmentStore
from ..progress import progress_bar
from ..records import Judgment, Pair
from ..students.base import default_device, numeric_format
from ..students.config import EngineSettings
from ..students.registry import load_model, read_card, student_fingerprint
from ..students.student import card_probabilities, student_judgments
from .config import RayOptions
from .local import LabelRun


class ScoreActor:
    """A Ray Data actor: loads the student once, then turns batches of texts into grade probabilities."""

    def __init__(self, model_dir: str, settings: EngineSettings) -> None:
        self.settings = settings
        self.card = read_card(model_dir)
        self.model = load_model(model_dir, settings.precision, default_device())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        probs = card_probabilities(self.model, batch["query"].tolist(), batch["doc"].tolist(), self.card,
                                   self.settings, self.settings.precision)
        return {"query_id": batch["query_id"], "doc_id": batch["doc_id"], "probs": probs}


def label_with_ray(model_dir: str | Path, dataset: Dataset, pairs: Sequence[Pair], store: JudgmentStore,
                   shards: str | Path, settings: EngineSettings = EngineSettings(), options: RayOptions = RayOptions(),
                   progress: bool = True, actor: type = ScoreActor) -> LabelRun:
    """Label every pair the store lacks for this student on a Ray cluster; shards go to ``shards/``.

    ``actor`` is the actor class (a subclass may wrap ``ScoreActor``; tests use one that kills itself).
    """
    import pyarrow as pa

    fmt = numeric_format(settings.precision, "cuda" if options.gpus_per_actor else "cpu")
    fingerprint = student_fingerprint(model_dir, fmt)
    card, shards = read_card(model_dir), Path(shards)
    merge_shards(shards, store, card, fingerprint)
    todo, reused = store.pending(fingerprint, pairs)
    done = store.done(fingerprint)
    statuses: Counter[str] = Counter()
    start = time.perf_counter()
    if todo:
        queries, docs = dataset.queries, dataset.docs
        blocks = [pa.table({"query_id": [p.query_id for p in part], "doc_id": [p.doc_id for p in part],
                            "query": [queries[p.query_id] for p in part], "doc": [docs[p.doc_id] for p in part]})
                  for part in (todo[i:i + options.batch_pairs] for i in range(0, len(todo), options.batch_pairs))]
        actor_settings = replace(settings, precision=fmt, threads=settings.threads or options.cpus_per_actor)
        with ray_cluster(options.address) as cluster_cpus, \
                progress_bar("labeling (ray)", len(todo), "pairs", enabled=progress) as advance:
            actors = min(len(blocks), options.actors or max(1, int(cluster_cpus // options.cpus_per_actor)))
            scored = ray_dataset(blocks).map_batches(
                actor, fn_constructor_kwargs={"model_dir": str(model_dir), "settings": actor_settings},
                batch_size=options.batch_pairs, concurrency=actors, num_cpus=options.cpus_per_actor,
                num_gpus=options.gpus_per_actor, max_restarts=-1, max_task_retries=options.retries)
            for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
                new = [j for j in shard_judgments(batch["query_id"].tolist(), batch["doc_id"].tolist(),
                                                  batch["probs"], card, fingerprint) if j.pair not in done]
                write_shard(shards, new)
                store.append(new)
                done.update(j.pair for j in new)
                statuses.update(j.status for j in new)
                advance(len(new))
    return LabelRun(fingerprint, sum(statuses.values()), reused, time.perf_counter() - start, dict(statuses))


def shard_judgments(query_ids: Sequence[str], doc_ids: Sequence[str], probs: Any, card: dict[str, Any],
                    fingerprint: str) -> list[Judgment]:
    pairs = [Pair(q, d) for q, d in zip(query_ids, doc_ids)]
    return list(student_judgments(pairs, np.asarray(probs, dtype=np.float32).reshape(len(pairs), -1), card, fingerprint))


def write_shard(shards: Path, batch: Sequence[Judgment]) -> None:
    """One Parquet file per batch: query_id, doc_id, grade, probs, judge."""
    import pyarrow as pa

    if batch:
        write_parquet_atomic(shards / f"part-{uuid.uuid4().hex}.parquet", pa.table({
            "query_id": [j.query_id for j in batch], "doc_id": [j.doc_id for j in batch],
            "grade": [j.grade for j in batch], "probs": [list(j.probs or ()) for j in batch],
            "judge": [j.judge for j in batch]}))


def merge_shards(shards: Path, store: JudgmentStore, card: dict[str, Any], fingerprint: str) -> None:
    """Append to the store the shard rows of this student that it lacks (written just before an interruption)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    done = store.done(fingerprint)
    for path in sorted(shards.glob("part-*.parquet")):
        table = pq.read_table(path)
        rows = table.filter(pc.equal(table["judge"], fingerprint)).to_pydict()
        new = [j for j in shard_judgments(rows["query_id"], rows["doc_id"], rows["probs"], card, fingerprint)
               if j.pair not in done]
        store.append(new)
        done.update(j.pair for j in new)


def ray_dataset(blocks: Sequence[Any]) -> Any:
    """A Ray Dataset of pyarrow tables, one block each, without Ray's own progress bars and log lines."""
    import logging

    import ray.data

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    return ray.data.from_arrow(list(blocks))


@contextlib.contextmanager
def ray_cluster(address: str | None) -> Iterator[float]:
    """Connect to the cluster at ``address``, or start a local one (stopped on exit); yields its CPU count."""
    import ray

    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        except ConnectionError as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None
    try:
        yield ray.cluster_resources().get("CPU", 1)
    finally:
        if started:
            ray.shutdown()
