"""What a judge costs: the usage of judgments, the plan before any request, and the budget that caps a job.

A ``Budget`` is read the same way wherever a command takes one (``--budget``, ``--adapt-budget``): a pair count
(``500``), a share of the pairs (``30%``) or money (``$20``: the pairs are taken in order while their worst-case cost
fits; a judge with prices only).

>>> Budget.parse("30%").count(200, []), Budget.parse("500").count(200, []), Budget.parse("$2.5").count(9, [1.0] * 9)
(60, 200, 2)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from ..io.store import JudgmentStore
from ..records import Judgment, Pair, Usage
from .base import Batch, Judge, Texts


@dataclass(frozen=True)
class Budget:
    """How much judging a job may buy: ``pairs``, a ``share`` of its pairs, or ``usd`` of worst-case cost."""

    pairs: int | None = None
    share: float | None = None
    usd: float | None = None

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``500`` (pairs), ``30%`` (a share of the pairs) or ``$20`` (US dollars)."""
        match = re.fullmatch(r"\s*(\$)?\s*(\d+(?:\.\d+)?)\s*(%)?\s*", str(text))
        if not match or (match.group(1) and match.group(3)):
            raise ConfigError(f"budget {text!r}: expected a pair count (500), a share (30%) or money ($20)")
        value = float(match.group(2))
        if match.group(1):
            return cls(usd=value)
        if match.group(3):
            if value > 100:
                raise ConfigError(f"budget {text!r}: a share is at most 100%")
            return cls(share=value / 100)
        if value != int(value):
            raise ConfigError(f"budget {text!r}: a pair count is a whole number (money is written $2.5)")
        return cls(pairs=int(value))

    def count(self, total: int, costs: Sequence[float]) -> int:
        """How many of ``total`` pairs, taken in order (``costs``: their worst-case costs), the budget buys."""
        if self.pairs is not None:
            return min(self.pairs, total)
        if self.share is not None:
            return int(round(self.share * total))
        limit = (self.usd or 0.0) + 1e-12
        return sum(1 for total_cost in itertools.accumulate(costs) if total_cost <= limit)

    def check(self, judge: Judge) -> None:
        """A budget in money needs a judge with prices."""
        if self.usd is not None and judge.traits.prices is None:
            raise ConfigError(
                f"a budget in dollars needs a teacher with prices; {judge.fingerprint} has none (give a "
                f"pair count or a share instead)"
            )


@dataclass(frozen=True)
class Plan:
    todo: int  # pairs without an answer in the store: one request each
    reused: int  # pairs answered by an earlier run: no request
    estimate: Usage
    cost: float  # US$, upper estimate


def total_usage(judgments: Iterable[Judgment]) -> Usage:
    """The usage of these judgments together."""
    return sum((j.usage for j in judgments if j.usage is not None), Usage())


def spent(judge: Judge, judgments: Iterable[Judgment]) -> float:
    """What these judgments of ``judge`` cost, in US$ (0 for a judge without prices)."""
    return judge.traits.prices.cost(total_usage(judgments)) if judge.traits.prices else 0.0


def worst_cost(judge: Judge, pairs: Sequence[Pair], texts: Texts) -> list[float]:
    """Each pair's worst-case cost in US$ (zeros for a judge without prices)."""
    prices = judge.traits.prices
    if prices is None:
        return [0.0] * len(pairs)
    return [prices.cost(judge.worst_case(Batch([pair], texts))) for pair in pairs]


def plan(judge: Judge, pairs: Sequence[Pair], texts: Texts, store: JudgmentStore) -> Plan:
    """What judging ``pairs`` would request and cost, without calling anything."""
    todo, reused = store.pending(judge.fingerprint, pairs)
    estimate = judge.worst_case(Batch(todo, texts))
    return Plan(len(todo), reused, estimate, judge.traits.prices.cost(estimate) if judge.traits.prices else 0.0)
