"""Label a Parquet pair set of any size on a Ray cluster: the workers read, judge and write; the driver counts.

The driver lists the pair set's units from the Parquet metadata (``io/shards.py``) and hands a pool of Ray actors the
units that have no shard yet (Ray core's ``ActorPool``: Ray Data would keep every unit's input block in the driver
for the whole run). Each actor holds the judge (a student's model is loaded there, once), reads its unit's rows with
pyarrow, judges them with the texts in the rows (``query``, ``text``) or with the texts it was given (a dataset
folder, read on the worker), writes the unit's shard by atomic rename and returns its counts. No text and no
judgment passes through the driver, whose memory does not grow with the pair set.

Exactly once: a unit's shard is written whole or not at all, under the unit's own name. A killed actor is restarted
and its unit retried by Ray; a killed driver leaves the shards written so far, and the rerun labels only the units
without one. A unit retried after its shard was written is not judged again. A unit whose teacher requests failed
for some pairs is kept as a retry shard; the rerun asks those pairs alone again.

>>> from qrelforge.labeling.stream import label_parquet
>>> run = label_parquet(student, "pairs.parquet", "labels.txt.shards")  # doctest: +SKIP
>>> # (skipped: it needs a Ray cluster; tests/test_stream.py runs it on a local one)
"""

from __future__ import annotations

import pickle
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Interrupted, QrelforgeError
from ..io.lock import WriterLock
from ..io.shards import (
    Manifest,
    Unit,
    UnitReader,
    finished,
    open_manifest,
    pair_files,
    remove_leftover_retries,
    retried_judgments,
    shard_counts,
    write_shard,
)
from ..io.store import RETRIED
from ..judges.base import Batch, Judge, Texts, TextTable
from ..judges.cost import total_usage
from ..llm.gate import shared_gate
from ..progress import progress_bar
from ..records import Judgment, Pair, Usage
from .config import RayOptions
from .local import LabelRun
from .ray import ray_cluster


@dataclass(frozen=True)
class UnitDone:
    """What an actor sends back for a unit: counts, never judgments."""

    unit: Unit
    statuses: dict[str, int] = field(default_factory=dict)  # this run's new judgments by status
    usage: Usage = Usage()  # what they billed (teachers)
    answered: int = 0  # rows answered by an earlier run (a retry shard's)
    error: bytes = b""  # the error the unit's input caused, pickled


@dataclass
class Tally:
    """The driver's sum of what the actors sent back."""

    statuses: Counter[str] = field(default_factory=Counter)
    answered: int = 0
    usage: Usage = Usage()

    def add(self, done: UnitDone) -> None:
        self.statuses.update(done.statuses)
        self.answered += done.answered
        self.usage += done.usage


class ShardActor:
    """A Ray actor: holds one judge; for each unit it is given, reads, judges and writes the unit's shard."""

    def __init__(self, judge: Judge, texts: Texts | None, folder: str) -> None:
        self.judge, self.texts, self.folder, self.reader = judge, texts, Path(folder), UnitReader()

    def __call__(self, unit: Unit) -> UnitDone:
        try:
            return self.label(unit)
        except QrelforgeError as exc:  # the input's fault, not the worker's: not retried, the driver raises it
            return UnitDone(unit, error=pickle.dumps(exc))

    def label(self, unit: Unit) -> UnitDone:
        """Judge the unit's rows that have no answer yet (none, when a retry finds its shard written; the failed
        pairs of its retry shard) and write its shard."""
        shard = self.folder / unit.shard
        if shard.exists():  # written by this unit's earlier attempt in this run, whose actor then died
            return UnitDone(unit, *shard_counts(shard))
        table = self.reader.read(unit)
        query_ids, doc_ids = table["query_id"].to_pylist(), table["doc_id"].to_pylist()
        pairs = [Pair(q, d) for q, d in zip(query_ids, doc_ids)]
        texts = self.texts
        if "text" in table.column_names and "query" in table.column_names:
            texts = TextTable(
                dict(zip(query_ids, table["query"].to_pylist())), dict(zip(doc_ids, table["text"].to_pylist()))
            )
        if texts is None:
            raise ConfigError(f"{unit.location} has no query and text columns, and no texts were given")
        earlier = retried_judgments(self.folder, unit, pairs)
        judgments: list[Judgment | None] = list(earlier) if earlier else [None] * len(pairs)
        ask = [i for i, j in enumerate(judgments) if j is None or j.status == RETRIED]
        new = self._judge([pairs[i] for i in ask], texts)
        for i, judgment in zip(ask, new):
            judgments[i] = judgment
        write_shard(self.folder, unit, [j for j in judgments if j is not None])
        return UnitDone(unit, dict(Counter(j.status for j in new)), total_usage(new), len(pairs) - len(ask))

    def _judge(self, pairs: list[Pair], texts: Texts) -> list[Judgment]:
        step = self.judge.traits.batch_pairs or len(pairs) or 1
        return [j for i in range(0, len(pairs), step) for j in self.judge.judge(Batch(pairs[i : i + step], texts))]


def label_parquet(
    judge: Judge,
    pairs: str | Path,
    shards: str | Path,
    texts: Texts | None = None,
    options: RayOptions = RayOptions(),
    progress: bool = True,
    actor: type = ShardActor,
) -> LabelRun:
    """Label every row of the Parquet pair set ``pairs`` whose unit has no shard in ``shards`` yet, on Ray.

    ``texts`` serves pair sets without ``query`` and ``text`` columns; it is pickled to every actor as it is, so give
    one that reads its files where it runs (``Dataset.from_folder``). ``actor`` is the actor class (tests use one that
    kills itself).
    """
    shards = Path(shards)
    manifest = Manifest(judge.fingerprint, judge.scale, options.batch_pairs, pair_files(pairs))
    if not manifest.texts and texts is None:
        raise ConfigError(f"{pairs} has no query and text columns: give the texts (--dataset DIR)")
    shards.mkdir(parents=True, exist_ok=True)
    lock = WriterLock(shards / ".lock", f"the shards of {shards}")
    try:
        manifest = open_manifest(shards, manifest)
        remove_leftover_retries(shards)
        done = finished(shards)
        units = manifest.units()
        todo = [u for u in units if u.shard not in done]
        reused = sum(u.rows for u in units if u.shard in done)
        start, tally = time.perf_counter(), Tally()
        try:
            if todo:
                _run(judge, None if manifest.texts else texts, shards, todo, options, progress, actor, tally)
        except KeyboardInterrupt:
            saved = len(finished(shards))
            raise Interrupted(
                f"interrupted: {saved} of {len(units)} shards are in {shards}; run the same command again to label "
                f"the rest (nothing is labeled twice)"
            ) from None
        judged, seconds = sum(tally.statuses.values()), time.perf_counter() - start
        return LabelRun(judge.fingerprint, judged, reused + tally.answered, seconds, dict(tally.statuses), tally.usage)
    finally:
        lock.release()


def _run(
    judge: Judge,
    texts: Texts | None,
    shards: Path,
    todo: list[Unit],
    options: RayOptions,
    progress: bool,
    actor: type,
    tally: Tally,
) -> None:
    """Hand the units to a pool of actors, each with one unit queued behind the one it judges, and tally what they
    send back. The driver keeps the futures in flight and the tally only, so its memory does not grow with the pair
    set."""
    import ray
    from ray.util import ActorPool

    with (
        ray_cluster(options.address) as cluster_cpus,
        shared_gate(judge.fingerprint, judge.traits.limits),  # a teacher's limits hold over all actors
        progress_bar("labeling (ray)", sum(u.rows for u in todo), "pairs", enabled=progress) as advance,
    ):
        count = min(len(todo), options.actors or max(1, int(cluster_cpus // options.cpus_per_actor)))
        remote: Any = ray.remote(actor).options(
            num_cpus=options.cpus_per_actor,
            num_gpus=options.gpus_per_actor,
            max_restarts=-1,  # a killed actor is restarted, and its unit retried ...
            max_task_retries=options.retries,  # ... this many times, so a unit that kills every actor stops the run
        )
        workers = [remote.remote(judge, texts, str(shards)) for _ in range(count)]
        pool = ActorPool(workers * 2)
        for done in pool.map_unordered(lambda worker, unit: worker.__call__.remote(unit), todo):
            if done.error:
                raise pickle.loads(done.error)  # a bad row or a judge's error, as the worker raised it
            tally.add(done)
            advance(done.unit.rows)
