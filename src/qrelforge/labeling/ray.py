"""Label pairs with any judge across a Ray cluster (Ray Data): actors hold the judge, batches flow through them.

The judge is pickled to each actor as it is (a student's model is loaded there, once), and each batch carries its
texts, so an actor calls the same ``judge.judge(batch)`` the local engine does. The driver streams the judgments back,
writes each batch as a Parquet shard and appends its judgments to the judgment store: an interrupted run resumes from
the store (and from shards written before the store was), and no pair is labeled twice. Ray restarts a killed actor
and retries its batch, up to ``RayOptions.retries`` times: a batch that kills every actor it meets stops the run with
Ray's error instead of looping; what was stored so far is kept, and the rerun resumes.

>>> from qrelforge import RayOptions, label_with_ray
>>> options = RayOptions(address="auto")
>>> run = label_with_ray(student, dataset.pairs, dataset, store, "labels.txt.shards", options)  # doctest: +SKIP
>>> # (skipped: it needs a Ray cluster; tests/test_ray.py runs it on a local one)
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.parquet import write_parquet_rows
from ..io.store import JudgmentStore, judgment_of, row_of
from ..judges.base import Batch, Judge, Texts, TextTable
from ..judges.cost import Budget, total_usage
from ..llm.gate import shared_gate
from ..progress import progress_bar
from ..records import Judgment, Pair, Usage
from .config import RayOptions
from .local import LabelRun, affordable


class JudgeActor:
    """A Ray Data actor: holds one judge, and turns batches of pairs with their texts into judgments (JSON rows)."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        queries, query_ids, docs, doc_ids = (batch[c].tolist() for c in ("query", "query_id", "doc", "doc_id"))
        texts = TextTable(dict(zip(query_ids, queries)), dict(zip(doc_ids, docs)))
        judgments = self.judge.judge(Batch([Pair(q, d) for q, d in zip(query_ids, doc_ids)], texts))
        return {"row": [json.dumps(row_of(j)) for j in judgments]}


def label_with_ray(
    judge: Judge,
    pairs: Sequence[Pair],
    texts: Texts,
    store: JudgmentStore,
    shards: str | Path,
    options: RayOptions = RayOptions(),
    progress: bool = True,
    actor: type = JudgeActor,
    budget: Budget | None = None,
) -> LabelRun:
    """Label every pair the store lacks for this judge on a Ray cluster; shards go to ``shards/``. A ``budget`` is
    spent before any work is sent: the pairs it buys, each at its worst-case cost for a budget in money.

    ``actor`` is the actor class (a subclass may wrap ``JudgeActor``; tests use one that kills itself).
    """
    import pyarrow as pa
    import ray.data

    shards = Path(shards)
    merge_shards(shards, store, judge.fingerprint)
    todo, reused = store.pending(judge.fingerprint, pairs)
    stopped = False
    if budget is not None:
        budget.check(judge)
        stopped, todo = affordable(judge, budget, todo, reused, store, texts)
    done = store.done(judge.fingerprint)
    statuses: Counter[str] = Counter()
    usage, start = Usage(), time.perf_counter()
    if todo:
        blocks = [
            pa.table(
                {
                    "query_id": [p.query_id for p in part],
                    "doc_id": [p.doc_id for p in part],
                    "query": [texts.queries[p.query_id] for p in part],
                    "doc": [texts.docs[p.doc_id] for p in part],
                }
            )
            for part in (todo[i : i + options.batch_pairs] for i in range(0, len(todo), options.batch_pairs))
        ]
        with (
            ray_cluster(options.address) as cluster_cpus,
            shared_gate(judge.fingerprint, judge.traits.limits),  # a teacher's limits hold over all actors
            progress_bar("labeling (ray)", reused + len(todo), "pairs", enabled=progress, done=reused) as advance,
        ):
            actors = min(len(blocks), options.actors or max(1, int(cluster_cpus // options.cpus_per_actor)))
            judged = ray_dataset(blocks).map_batches(
                actor,
                fn_constructor_kwargs={"judge": judge},
                batch_size=options.batch_pairs,
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=options.cpus_per_actor,
                num_gpus=options.gpus_per_actor,
                max_restarts=-1,
                max_task_retries=options.retries,
            )
            for batch in judged.iter_batches(batch_size=None, batch_format="numpy"):
                new = [j for j in (judgment_of(json.loads(row)) for row in batch["row"].tolist()) if j.pair not in done]
                write_shard(shards, new)
                store.append(new)
                done.update(j.pair for j in new)
                statuses.update(j.status for j in new)
                usage += total_usage(new)
                advance(len(new))
    seconds = time.perf_counter() - start
    return LabelRun(judge.fingerprint, sum(statuses.values()), reused, seconds, dict(statuses), usage, stopped)


def write_shard(shards: Path, batch: Sequence[Judgment]) -> None:
    """One Parquet file per batch, a row per judgment with every field of the store's rows."""
    if batch:
        write_parquet_rows(
            shards / f"part-{uuid.uuid4().hex}.parquet",
            [row_of(j) | {"usage": json.dumps(row_of(j)["usage"])} for j in batch],
        )


def merge_shards(shards: Path, store: JudgmentStore, fingerprint: str) -> None:
    """Append to the store the shard rows of this judge that it lacks (written just before an interruption)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    done = store.done(fingerprint)
    for path in sorted(shards.glob("part-*.parquet")):
        table = pq.read_table(path)
        rows = table.filter(pc.equal(table["judge"], fingerprint)).to_pylist()
        new = [
            j for j in (judgment_of(row | {"usage": json.loads(row["usage"])}) for row in rows) if j.pair not in done
        ]
        store.append(new)
        done.update(j.pair for j in new)


def ray_dataset(blocks: Sequence[Any]) -> Any:
    """A Ray Dataset of pyarrow tables, one block each, without Ray's own progress bars and log lines."""
    import ray.data

    quiet_ray_data()
    return ray.data.from_arrow(list(blocks))


def quiet_ray_data() -> None:
    """No progress bars or log lines of Ray Data's own: the run shows qrelforge's one progress display."""
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # the actors' restart and retry limits are still passed as remote args (Ray Data has no named parameter for them)
    warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")


@contextlib.contextmanager
def ray_cluster(address: str | None) -> Iterator[float]:
    """Connect to the cluster at ``address``, or start a local one (stopped on exit); yields its CPU count."""
    import ray

    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        except ConnectionError as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None
    try:
        yield ray.cluster_resources().get("CPU", 1)
    finally:
        if started:
            ray.shutdown()
