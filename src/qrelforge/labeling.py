"""Label pairs with any Judge, in batches, into a judgment store; an interrupted run resumes where it stopped."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .io.store import JudgmentStore
from .judge.base import Judge
from .progress import progress_bar
from .records import Pair


@dataclass(frozen=True)
class LabelRun:
    judge: str
    judged: int  # pairs judged by this call
    reused: int  # pairs already in the store from an earlier run
    seconds: float
    statuses: dict[str, int]  # this call's judgments by status

    @property
    def pairs_per_second(self) -> float:
        return self.judged / self.seconds if self.seconds > 0 else 0.0


def label(judge: Judge, pairs: Sequence[Pair], store: JudgmentStore, batch_size: int = 256,
          progress: bool = True) -> LabelRun:
    """Judge every pair the store lacks for this judge, appending each batch durably as it completes."""
    done, unique = store.done(judge.fingerprint), list(dict.fromkeys(pairs))
    todo = [p for p in unique if p not in done]
    statuses: Counter[str] = Counter()
    start = time.perf_counter()
    with progress_bar("labeling", len(todo), "pairs", enabled=progress) as advance:
        for offset in range(0, len(todo), batch_size):
            batch = todo[offset:offset + batch_size]
            judgments = list(judge.judge(batch))
            if [j.pair for j in judgments] != batch:
                raise RuntimeError(f"judge {judge.fingerprint} did not answer the {len(batch)} pairs it was given, in order")
            store.append(judgments)
            statuses.update(j.status for j in judgments)
            advance(len(batch))
    return LabelRun(judge.fingerprint, len(todo), len(unique) - len(todo), time.perf_counter() - start, dict(statuses))
