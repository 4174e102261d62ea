"""What a billed judge (an LLM teacher) costs: the plan before any request, the spend so far, and the budget."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..io.store import JudgmentStore
from ..llm.config import Prices
from ..records import Judgment, Pair, Usage


@runtime_checkable
class BilledJudge(Protocol):
    """A judge whose answers cost tokens: it knows its prices and can bound what a set of pairs will cost."""

    fingerprint: str
    prices: Prices

    def worst_case(self, pairs: Sequence[Pair]) -> Usage:
        """An upper estimate of the usage of judging ``pairs``."""
        ...


@dataclass(frozen=True)
class Plan:
    todo: int  # pairs without an answer in the store: one request each
    reused: int  # pairs answered by an earlier run: no request
    estimate: Usage
    cost: float  # US$, upper estimate


def total_usage(judgments: Iterable[Judgment]) -> Usage:
    """The usage of these judgments together."""
    return sum((j.usage for j in judgments if j.usage is not None), Usage())


def plan(judge: BilledJudge, pairs: Sequence[Pair], store: JudgmentStore) -> Plan:
    """What judging ``pairs`` would request and cost, without calling anything."""
    todo, reused = store.pending(judge.fingerprint, pairs)
    estimate = judge.worst_case(todo)
    return Plan(len(todo), reused, estimate, judge.prices.cost(estimate))


def affordable(judge: BilledJudge, batch: Sequence[Pair], spent: float, budget: float) -> list[Pair]:
    """The longest prefix of ``batch`` whose worst-case cost still fits in ``budget`` after ``spent``."""
    total = spent
    for i, pair in enumerate(batch):
        total += judge.prices.cost(judge.worst_case([pair]))
        if total > budget:
            return list(batch[:i])
    return list(batch)
