"""Label pairs with any Judge, in batches, into a judgment store; an interrupted run resumes where it stopped.

>>> import tempfile
>>> from qrelforge import JudgmentStore, LookupJudge, Pair, label
>>> judge, store = LookupJudge({Pair("q1", "d1"): 1}, "replay:x:0"), JudgmentStore(tempfile.mkdtemp() + "/s.jsonl")
>>> label(judge, [Pair("q1", "d1")], store, progress=False).judged, label(judge, [Pair("q1", "d1")], store, progress=False).reused
(1, 1)
"""
from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError, Interrupted, JudgeError, TeacherError
from ..io.store import JudgmentStore
from ..judges.base import Judge
from ..progress import progress_bar
from ..records import Pair, Usage

DEFAULT_BATCH_PAIRS = 256  # the most pairs per batch (one store append) for a judge that names no limit of its own
SAVE_SECONDS = 2.0  # a batch is sized to take about this long: work reaches the store at least this often
FIRST_BATCH = 16  # the first batch's size, before the judge's speed is known


@dataclass(frozen=True)
class LabelRun:
    judge: str
    judged: int  # pairs judged by this call
    reused: int  # pairs already in the store from an earlier run
    seconds: float
    statuses: dict[str, int]  # this call's judgments by status
    usage: Usage = Usage()  # what this call's judgments billed (teachers only)
    stopped_by_budget: bool = False  # pairs were left unjudged because the next ones could exceed the budget

    @property
    def pairs_per_second(self) -> float:
        return self.judged / self.seconds if self.seconds > 0 else 0.0

    @property
    def tokens_per_second(self) -> float:
        tokens = self.usage.prompt_tokens + self.usage.completion_tokens
        return tokens / self.seconds if self.seconds > 0 else 0.0


def label(judge: Judge, pairs: Sequence[Pair], store: JudgmentStore, batch_size: int | None = None,
          progress: bool = True, budget: float | None = None) -> LabelRun:
    """Judge every pair the store lacks for this judge, appending each batch durably as it completes.

    Batches are sized by the clock: each is meant to take about ``SAVE_SECONDS`` (at most the judge's own
    ``batch_pairs``), so work reaches the store every few seconds whatever the judge's speed, and an interrupt or a
    kill loses at most one batch. ``batch_size`` fixes the size instead. With a ``budget`` (US$, for a billed judge),
    the run stops before the first pair whose worst-case cost could take the judge's total spend in this store
    (earlier runs included) over the budget. Ctrl-C or SIGTERM ends it with ``Interrupted``, which says what was
    saved.
    """
    from ..judges.cost import BilledJudge, affordable, total_usage

    billed = isinstance(judge, BilledJudge)
    if budget is not None and not billed:
        raise ConfigError(f"a budget needs a judge that bills tokens; {judge.fingerprint} does not")
    most = batch_size or getattr(judge, "batch_pairs", DEFAULT_BATCH_PAIRS)
    size = batch_size or min(FIRST_BATCH, most)
    todo, reused = store.pending(judge.fingerprint, pairs)
    spent = judge.prices.cost(total_usage(store.judgments(judge.fingerprint))) if billed else 0.0
    statuses: Counter[str] = Counter()
    usage, judged, stopped, start, offset = Usage(), 0, False, time.perf_counter(), 0
    try:
        with progress_bar("judging" if billed else "labeling", len(todo), "pairs", enabled=progress) as advance:
            while offset < len(todo) and not stopped:
                batch = todo[offset:offset + size]
                if budget is not None:
                    fits = affordable(judge, batch, spent, budget)
                    stopped, batch = len(fits) < len(batch), fits
                begin = time.perf_counter()
                judgments = list(judge.judge(batch)) if batch else []
                if [j.pair for j in judgments] != batch:
                    raise JudgeError(f"judge {judge.fingerprint} did not answer the {len(batch)} pairs it was given, "
                                     f"in order")
                store.append(judgments)
                if len(judgments) > 1 and all(j.status == "api_error" for j in judgments):
                    raise TeacherError(f"every one of the last {len(judgments)} requests failed, so the server is "
                                       f"down or unreachable: {judgments[0].raw}; stopped (the failed pairs are "
                                       f"retried by the next run; {judged} pairs were judged by this one)")
                statuses.update(j.status for j in judgments)
                usage, judged, offset = usage + total_usage(judgments), judged + len(batch), offset + len(batch)
                if billed:
                    spent += judge.prices.cost(total_usage(judgments))
                if batch_size is None:
                    size = next_batch_size(len(batch), time.perf_counter() - begin, most)
                advance(len(batch), f"{usage.prompt_tokens + usage.completion_tokens:,} tokens, ${spent:.4f}"
                        if billed else "")
    except KeyboardInterrupt as stop:
        raise Interrupted(f"interrupted: {judged:,} pairs judged by this run are saved in {store.path} (with {reused:,} "
                          f"from earlier runs); run the same command again to resume: nothing saved is judged again",
                          getattr(stop, "signum", signal.SIGINT)) from None
    return LabelRun(judge.fingerprint, judged, reused, time.perf_counter() - start, dict(statuses), usage, stopped)


def next_batch_size(size: int, seconds: float, most: int) -> int:
    """The size of the batch after one of ``size`` pairs that took ``seconds``: about ``SAVE_SECONDS`` of work at
    that speed, growing at most fourfold per batch, between 1 and ``most``.

    >>> next_batch_size(16, 0.5, 1000), next_batch_size(400, 8.0, 1000), next_batch_size(64, 0.0, 1000)
    (64, 100, 256)
    """
    return max(1, min(most, 4 * size, int(size * SAVE_SECONDS / max(seconds, 1e-6))))
