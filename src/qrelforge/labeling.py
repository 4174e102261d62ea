"""Label pairs with any Judge, in batches, into a judgment store; an interrupted run resumes where it stopped."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ConfigError
from .io.store import JudgmentStore
from .judge.base import Judge
from .progress import progress_bar
from .records import Pair, Usage


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


def label(judge: Judge, pairs: Sequence[Pair], store: JudgmentStore, batch_size: int = 256,
          progress: bool = True, budget: float | None = None) -> LabelRun:
    """Judge every pair the store lacks for this judge, appending each batch durably as it completes.

    With a ``budget`` (US$, for a billed judge), the run stops before the first pair whose worst-case cost could
    take the judge's total spend in this store (earlier runs included) over the budget.
    """
    from .cost import BilledJudge, affordable, total_usage

    billed = isinstance(judge, BilledJudge)
    if budget is not None and not billed:
        raise ConfigError(f"a budget needs a judge that bills tokens; {judge.fingerprint} does not")
    done, unique = store.done(judge.fingerprint), list(dict.fromkeys(pairs))
    todo = [p for p in unique if p not in done]
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
                raise RuntimeError(f"judge {judge.fingerprint} did not answer the {len(batch)} pairs it was given, in order")
            store.append(judgments)
            statuses.update(j.status for j in judgments)
            usage, judged = usage + total_usage(judgments), judged + len(batch)
            if billed:
                spent += judge.prices.cost(total_usage(judgments))
            advance(len(batch), f"{usage.prompt_tokens + usage.completion_tokens:,} tokens, ${spent:.4f}" if billed else "")
            if stopped:
                break
    return LabelRun(judge.fingerprint, judged, len(unique) - len(todo), time.perf_counter() - start, dict(statuses),
                    usage, stopped)
