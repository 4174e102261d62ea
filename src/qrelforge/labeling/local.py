"""Label pairs with any Judge, in batches sized by the clock, into a judgment store; an interrupted run resumes where
it stopped.

>>> import tempfile
>>> from qrelforge import JudgmentStore, LookupJudge, Pair, TextTable, label
>>> judge, texts = LookupJudge({Pair("q1", "d1"): 1}, "replay:x:0"), TextTable({"q1": "cats"}, {"d1": "a cat"})
>>> with JudgmentStore(tempfile.mkdtemp() + "/s.jsonl") as store:
...     first, again = (label(judge, [Pair("q1", "d1")], texts, store, progress=False) for _ in range(2))
...     (first.judged, again.reused)
(1, 1)
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import Interrupted, JudgeError, TeacherError
from ..io.store import JudgmentStore
from ..judges.base import Batch, Judge, Texts
from ..judges.cost import Budget, spent, total_usage, worst_cost
from ..progress import progress_bar
from ..records import Pair, Usage

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


def label(
    judge: Judge,
    pairs: Sequence[Pair],
    texts: Texts,
    store: JudgmentStore,
    batch_size: int | None = None,
    progress: bool = True,
    budget: Budget | None = None,
) -> LabelRun:
    """Judge every pair the store lacks for this judge, appending each batch durably as it completes.

    Batches are sized by the clock: each is meant to take about ``SAVE_SECONDS`` (at most the judge's own
    ``traits.batch_pairs``), so work reaches the store every few seconds whatever the judge's speed, and an interrupt
    or a kill loses at most one batch. ``batch_size`` fixes the size instead. A ``budget`` caps the judge's answers
    among ``pairs``, earlier runs included: a count or share of them, or money (the run stops before the first pair
    whose worst-case cost could take the judge's spend in this store over it). Ctrl-C or SIGTERM ends the run with
    ``Interrupted``, which says what was saved.
    """
    if budget is not None:
        budget.check(judge)
    most = batch_size or judge.traits.batch_pairs
    size = batch_size or min(FIRST_BATCH, most)
    todo, reused = store.pending(judge.fingerprint, pairs)
    stopped = False
    if budget is not None and budget.usd is None:  # a count or a share of the pairs, earlier answers included
        stopped, todo = affordable(judge, budget, todo, reused, store, texts)
    cost = spent(judge, store.judgments(judge.fingerprint))
    statuses: Counter[str] = Counter()
    usage, judged, start, offset = Usage(), 0, time.perf_counter(), 0
    try:
        with progress_bar("labeling", reused + len(todo), "pairs", enabled=progress, done=reused) as advance:
            while offset < len(todo):
                batch, last = todo[offset : offset + size], False
                if budget is not None and budget.usd is not None:
                    fits = Budget(usd=budget.usd - cost).count(len(batch), worst_cost(judge, batch, texts))
                    last, batch = fits < len(batch), batch[:fits]
                    stopped = stopped or last
                if not batch:
                    break
                begin = time.perf_counter()
                judgments = judge.judge(Batch(batch, texts))
                if [j.pair for j in judgments] != batch:
                    raise JudgeError(
                        f"judge {judge.fingerprint} did not answer the {len(batch)} pairs it was given, in order"
                    )
                store.append(judgments)
                if len(judgments) > 1 and all(j.status == "api_error" for j in judgments):
                    raise TeacherError(
                        f"every one of the last {len(judgments)} requests failed, so the server is "
                        f"down or unreachable: {judgments[0].raw}; stopped (the failed pairs are "
                        f"retried by the next run; {judged} pairs were judged by this one)"
                    )
                statuses.update(j.status for j in judgments)
                usage, judged, offset = usage + total_usage(judgments), judged + len(batch), offset + len(batch)
                cost += spent(judge, judgments)
                if batch_size is None:
                    size = next_batch_size(len(batch), time.perf_counter() - begin, most)
                tokens = usage.prompt_tokens + usage.completion_tokens
                advance(len(batch), f"{tokens:,} tokens, ${cost:.4f}" if judge.traits.prices else "")
                if last:
                    break
    except KeyboardInterrupt as stop:
        raise Interrupted(
            f"interrupted: {judged:,} pairs judged by this run are saved in {store.path} (with {reused:,} "
            f"from earlier runs); run the same command again to resume: nothing saved is judged again",
            getattr(stop, "signum", signal.SIGINT),
        ) from None
    return LabelRun(judge.fingerprint, judged, reused, time.perf_counter() - start, dict(statuses), usage, stopped)


def affordable(
    judge: Judge, budget: Budget, todo: list[Pair], reused: int, store: JudgmentStore, texts: Texts
) -> tuple[bool, list[Pair]]:
    """The first pairs of ``todo`` the budget buys, all at once (earlier answers count): a count or share of all the
    pairs, or, in money, as many as fit with each one's worst-case cost. Returns whether pairs were left out, and the
    pairs."""
    if budget.usd is None:
        allowed = max(0, budget.count(reused + len(todo), []) - reused)
    else:
        left = Budget(usd=budget.usd - spent(judge, store.judgments(judge.fingerprint)))
        allowed = left.count(len(todo), worst_cost(judge, todo, texts))
    return allowed < len(todo), todo[:allowed]


def next_batch_size(size: int, seconds: float, most: int) -> int:
    """The size of the batch after one of ``size`` pairs that took ``seconds``: about ``SAVE_SECONDS`` of work at
    that speed, growing at most fourfold per batch, between 1 and ``most``.

    >>> next_batch_size(16, 0.5, 1000), next_batch_size(400, 8.0, 1000), next_batch_size(64, 0.0, 1000)
    (64, 100, 256)
    """
    return max(1, min(most, 4 * size, int(size * SAVE_SECONDS / max(seconds, 1e-6))))
