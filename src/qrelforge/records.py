"""The records that flow between stages: small frozen dataclasses with ir_measures-style field names.

>>> from qrelforge import Judgment, graded
>>> graded([Judgment("q1", "d1", 2, "judge"), Judgment("q1", "d2", None, "judge", status="parse_error")])
{Pair(query_id='q1', doc_id='d1'): 2}
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable
from typing import Literal

from .errors import ConfigError

Status = Literal["ok", "no_label", "parse_error", "api_error"]
STATUSES: tuple[str, ...] = ("ok", "no_label", "parse_error", "api_error")


@dataclass(frozen=True, slots=True, order=True)
class Pair:
    query_id: str
    doc_id: str


@dataclass(frozen=True, slots=True)
class Usage:
    """What one judgment cost a billed judge: requests sent and tokens counted by the server."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.requests + other.requests, self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True, slots=True)
class GradeScale:
    """The grades a judge may give, each with the meaning its prompt explains (single digits, increasing)."""

    grades: tuple[int, ...] = (0, 1, 2, 3)
    meanings: tuple[str, ...] = (
        "Irrelevant: the passage has nothing to do with the query.",
        "Related: the passage seems related to the query but does not answer it.",
        "Highly relevant: the passage has some answer for the query, but the answer may be a bit unclear, "
        "or hidden amongst extraneous information.",
        "Perfectly relevant: the passage is dedicated to the query and contains the exact answer.")

    def __post_init__(self) -> None:
        if (len(self.grades) < 2 or len(self.meanings) != len(self.grades) or list(self.grades) != sorted(set(self.grades))
                or not all(0 <= g <= 9 for g in self.grades)):
            raise ConfigError(f"a grade scale needs two or more increasing single-digit grades, each with a meaning; "
                             f"got grades {self.grades} with {len(self.meanings)} meanings")


@dataclass(frozen=True, slots=True)
class Judgment:
    """One judge's answer for one pair. A failed judgment keeps ``grade=None`` and says why in ``status``."""

    query_id: str
    doc_id: str
    grade: int | None
    judge: str
    status: Status = "ok"
    probs: tuple[float, ...] | None = None  # one probability per grade of the judge's scale, when it knows them
    raw: str | None = None  # the judge's own answer (an LLM's text, an error message), kept for failed judgments
    usage: Usage | None = None  # what a billed judge spent on this judgment
    truncated: bool = False  # the judge read only the start of a passage too long for its budget
    flagged: bool = False  # the passage holds instruction-like text (a teacher with flag_instructions)

    @property
    def pair(self) -> Pair:
        return Pair(self.query_id, self.doc_id)


def graded(judgments: Iterable[Judgment]) -> dict[Pair, int]:
    """The grades of the successful judgments, by pair (failed ones have no grade to give)."""
    return {j.pair: j.grade for j in judgments if j.status == "ok" and j.grade is not None}
