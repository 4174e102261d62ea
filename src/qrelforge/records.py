"""The records that flow between stages: small frozen dataclasses with ir_measures-style field names.

``Pair``, ``Judgment`` (with its ``Usage``), ``GradeScale``; a trained student's ``StudentCard``; and a labeled pair's
``Provenance`` (who gave its grade, with each judge's ``Answer``). The last two read and write their JSON.

>>> from qrelforge import Judgment, graded
>>> graded([Judgment("q1", "d1", 2, "judge"), Judgment("q1", "d2", None, "judge", status="parse_error")])
{Pair(query_id='q1', doc_id='d1'): 2}
>>> Answer.of(Judgment("q1", "d1", 2, "student:s:0", probs=(0.1, 0.2, 0.7)), (1, 2, 3)).probs
{1: 0.1, 2: 0.2, 3: 0.7}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

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
        return Usage(
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True, slots=True)
class GradeScale:
    """The grades a judge may give, each with the meaning its prompt explains (single digits, increasing)."""

    grades: tuple[int, ...] = (0, 1, 2, 3)
    meanings: tuple[str, ...] = (
        "Irrelevant: the passage has nothing to do with the query.",
        "Related: the passage seems related to the query but does not answer it.",
        "Highly relevant: the passage has some answer for the query, but the answer may be a bit unclear, "
        "or hidden amongst extraneous information.",
        "Perfectly relevant: the passage is dedicated to the query and contains the exact answer.",
    )

    def __post_init__(self) -> None:
        if (
            len(self.grades) < 2
            or len(self.meanings) != len(self.grades)
            or list(self.grades) != sorted(set(self.grades))
            or not all(0 <= g <= 9 for g in self.grades)
        ):
            raise ConfigError(
                f"a grade scale needs two or more increasing single-digit grades, each with a meaning; "
                f"got grades {self.grades} with {len(self.meanings)} meanings"
            )


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

    @property
    def ok(self) -> bool:
        """The judge gave a grade (a failed judgment has none to give)."""
        return self.status == "ok" and self.grade is not None


def graded(judgments: Iterable[Judgment]) -> dict[Pair, int]:
    """The grades of the successful judgments, by pair (failed ones have no grade to give)."""
    return {j.pair: j.grade for j in judgments if j.ok and j.grade is not None}


@dataclass(frozen=True)
class Calibration:
    """A student's temperature, fitted on its validation queries, and the calibration error before and after."""

    temperature: float = 1.0
    ece_before: float | None = None
    ece_after: float | None = None


@dataclass(frozen=True)
class StudentCard:
    """A trained student's record (``qrelforge.json``): what labeling needs — its kind, grades, decision thresholds on
    the expected grade, calibration temperature and input length — and how it was trained."""

    kind: str
    grades: tuple[int, ...]
    thresholds: tuple[float, ...]
    max_length: int
    temperature: float = 1.0  # cards written before calibration existed have none: 1 leaves probabilities as they are
    calibration: Calibration = Calibration()
    base: str | None = None
    base_weights: str | None = None
    teachers: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    teacher_statuses: dict[str, int] = field(default_factory=dict)
    train_examples: int = 0
    validation_examples: int = 0
    validation_queries: int = 0
    config: dict[str, Any] = field(default_factory=dict)  # the TrainConfig it was trained with
    recipe_changes: tuple[str, ...] = ()
    bf16: bool = False
    steps: int = 0
    train_seconds: float = 0.0
    validation: dict[str, Any] = field(default_factory=dict)  # its agreement with the teacher on held-out queries

    def __post_init__(self) -> None:
        if len(self.thresholds) != len(self.grades) - 1 or len(self.grades) < 2:
            raise ValueError(
                f"a card needs one threshold fewer than its grades; got grades {list(self.grades)} and "
                f"thresholds {list(self.thresholds)}"
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> StudentCard:
        """A card from its JSON object; a missing key labeling needs, or a value of the wrong kind, is a ValueError
        (unknown keys are kept out: cards of other versions still read)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in obj.items() if k in known}
        if missing := [k for k in ("kind", "grades", "thresholds", "max_length") if k not in values]:
            raise ValueError(f"no {', '.join(missing)}")
        try:
            for name in ("grades", "thresholds", "teachers", "datasets", "recipe_changes"):
                if name in values:
                    values[name] = tuple(values[name])
            values["grades"] = tuple(int(g) for g in values["grades"])
            values["thresholds"] = tuple(float(t) for t in values["thresholds"])
            values["max_length"] = int(values["max_length"])
            values["temperature"] = float(values.get("temperature", 1.0))
            values["calibration"] = Calibration(**(values.get("calibration") or {}))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"a value of the wrong kind ({exc})") from None
        return cls(**values)


@dataclass(frozen=True)
class Answer:
    """One judge's answer for a pair, as provenance keeps it: its probabilities keyed by grade."""

    judge: str
    grade: int | None
    status: str = "ok"
    probs: dict[int, float] | None = None
    raw: str | None = None

    @classmethod
    def of(cls, judgment: Judgment, scale: Sequence[int]) -> Answer:
        """A judgment's answer; ``scale`` names the grade of each of its probabilities."""
        if judgment.probs is not None and len(judgment.probs) != len(scale):
            raise ValueError(f"{len(judgment.probs)} probabilities for the grades {list(scale)}")
        probs = dict(zip(scale, judgment.probs)) if judgment.probs is not None else None
        return cls(judgment.judge, judgment.grade, judgment.status, probs, judgment.raw)

    def to_json(self) -> dict[str, Any]:
        probs = {str(g): p for g, p in self.probs.items()} if self.probs is not None else None
        return {"grade": self.grade, "status": self.status, "judge": self.judge, "raw": self.raw, "probs": probs}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Answer:
        probs = obj.get("probs")
        return cls(
            str(obj.get("judge") or ""),
            obj.get("grade"),
            str(obj.get("status") or "ok"),
            {int(g): float(p) for g, p in probs.items()} if probs is not None else None,
            obj.get("raw"),
        )


@dataclass(frozen=True)
class Provenance:
    """Who gave a labeled pair its grade (``source``: ``student``, ``teacher``, ``human``, ``judge``, ``panel``),
    and the answers it was chosen from; a line of ``LABELS.provenance.jsonl``."""

    pair: Pair
    grade: int | None
    source: str
    judge: str | None = None  # the fingerprint of the judge whose grade it is (None: a human's)
    uncertainty: float | None = None  # the student's routing score (higher: less sure)
    student: Answer | None = None
    teacher: Answer | None = None
    members: tuple[Answer, ...] = ()  # a panel's or an audit's judges, each with its answer
    audit: float | None = None  # how far an audit's judges are from the human grade (higher: more suspect)

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "qid": self.pair.query_id,
            "docid": self.pair.doc_id,
            "grade": self.grade,
            "source": self.source,
            "judge": self.judge,
        }
        if self.uncertainty is not None:
            row["uncertainty"] = round(self.uncertainty, 6)
        for name in ("student", "teacher"):
            answer = getattr(self, name)
            row[name] = answer.to_json() if answer is not None else None
        if self.members:
            row["members"] = [answer.to_json() for answer in self.members]
        if self.audit is not None:
            row["audit"] = round(self.audit, 6)
        return row

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Provenance:
        """A provenance line; a missing key is a KeyError, a value of the wrong kind a ValueError or TypeError."""
        answers = {name: Answer.from_json(obj[name]) if obj.get(name) else None for name in ("student", "teacher")}
        uncertainty, audit = obj.get("uncertainty"), obj.get("audit")
        return cls(
            Pair(str(obj["qid"]), str(obj["docid"])),
            obj["grade"],
            str(obj["source"]),
            obj.get("judge"),
            float(uncertainty) if uncertainty is not None else None,
            answers["student"],
            answers["teacher"],
            tuple(Answer.from_json(answer) for answer in obj.get("members") or ()),
            float(audit) if audit is not None else None,
        )
