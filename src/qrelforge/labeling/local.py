"""Label pairs with any Judge, in batches, into a judgment store; an interrupted run resumes where it stopped.

>>> import tempfile
>>> from qrelforge import JudgmentStore, LookupJudge, Pair, label
>>> judge, store = LookupJudge({Pair("q1", "d1"): 1}, "replay:x:0"), JudgmentStore(tempfile.mkdtemp() + "/s.jsonl")
>>> label(judge, [Pair("q1", "d1")], store, progress=False).judged, label(judge, [Pair("q1", "d1")], store, progress=False).reused
(1, 1)
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError, JudgeError, TeacherError
from ..io.store import JudgmentStore
from ..judges.base import Judge
from ..progress import progress_bar
from ..records import Pair, Usage

DEFAULT_BATCH_PAIRS = 256  # pairs per batch (one store append) for a judge that names no batch size of its own


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

    A batch holds ``batch_size`` pairs, by default the judge's own ``batch_pairs`` (a teacher: four rounds of its
    concurrency; a student: four tokenizer chunks). With a ``budget`` (US$, for a billed judge), the run stops before the first pair whose worst-case cost could
    take the judge's total spend in this store (earlier runs included) over the budget.
    """
    from ..judges.cost import BilledJudge, affordable, total_usage

    billed = isinstance(judge, BilledJudge)
    if budget is not None and not billed:
        raise ConfigError(f"a budget needs a judge that bills tokens; {judge.fingerprint} does not")
    batch_size = batch_size or getattr(judge, "batch_pairs", DEFAULT_BATCH_PAIRS)
    todo, reused = store.pending(judge.fingerprint, pairs)
    spent = judge.prices.cost(total_usage(store.judgments(judge.fingerprint))) if billed else 0.0
    statuses: Counter[str] = Counter()
    usage, judged, stopped, start = Usage(), 0, False, time.perf_counter()
    with progress_bar("judging" if billed else "labeling", len(todo), "pairs", enabled=progress) as advance:
        for offset in range(0, len(todo), batch_size):
            batch = todo[offset:offset + batch_size]
            if budget is not None:
                fits = affordable(judge, batch, spent, budget)
                stopped, batch = len(fits) < len(batch), fits
            judgments = list(judge.judge(batch)) if batch else []
            if [j.pair for j in judgments] != batch:
                raise JudgeError(f"judge {judge.fingerprint} did not answer the {len(batch)} pairs it was given, in order")
            store.append(judgments)
            if len(judgments) > 1 and all(j.status == "api_error" for j in judgments):
                raise TeacherError(f"every one of the last {len(judgments)} requests failed, so the server is down or "
                                   f"unreachable: {judgments[0].raw}; stopped (the failed pairs are retried by the "
                                   f"next run; {judged} pairs were judged by this one)")
            statuses.update(j.status for j in judgments)
            usage, judged = usage + total_usage(judgments), judged + len(batch)
            if billed:
                spent += judge.prices.cost(total_usage(judgments))
            advance(len(batch), f"{usage.prompt_tokens + usage.completion_tokens:,} tokens, ${spent:.4f}" if billed else "")
            if stopped:
                break
    return LabelRun(judge.fingerprint, judged, reused, time.perf_counter() - start, dict(statuses), usage, stopped)
