"""The records that flow between stages: small frozen dataclasses with ir_measures-style field names."""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable
from typing import Literal

Status = Literal["ok", "no_label", "parse_error", "api_error"]
STATUSES: tuple[str, ...] = ("ok", "no_label", "parse_error", "api_error")


@dataclass(frozen=True, slots=True)
class Query:
    query_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Doc:
    doc_id: str
    text: str


@dataclass(frozen=True, slots=True, order=True)
class Pair:
    query_id: str
    doc_id: str


@dataclass(frozen=True, slots=True)
class Judgment:
    """One judge's answer for one pair. A failed judgment keeps ``grade=None`` and says why in ``status``."""

    query_id: str
    doc_id: str
    grade: int | None
    judge: str
    status: Status = "ok"
    probs: tuple[float, ...] | None = None
    raw: str | None = None

    @property
    def pair(self) -> Pair:
        return Pair(self.query_id, self.doc_id)


def graded(judgments: Iterable[Judgment]) -> dict[Pair, int]:
    """The grades of the successful judgments, by pair (failed ones have no grade to give)."""
    return {j.pair: j.grade for j in judgments if j.status == "ok" and j.grade is not None}
