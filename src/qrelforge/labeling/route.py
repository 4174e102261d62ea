"""A routing cascade: the student labels every pair, the teacher re-labels only the pairs the student is least sure
of, within a budget, and every merged label says who gave it.

Routing scores (higher: less sure), from the student's calibrated grade probabilities:
- ``entropy``: the entropy of the distribution;
- ``margin``: one minus the gap between its two most probable grades;
- ``cut``: closeness of the expected grade to the nearest grade threshold (the pair's grade is a coin toss there).
``benchmarks/routing.py`` measures which one recovers the teacher's agreement fastest.

A budget is a pair count (``500``), a share of the pairs (``30%``) or money (``$20``: a teacher with prices; the
pairs are taken in order while their worst-case cost fits). The choice depends only on the student's stored
judgments, so a rerun routes the same pairs, and the teacher's answers are in the store: it is never asked twice.

>>> Budget.parse("30%").count(200, []), Budget.parse("500").count(200, [])
(60, 200)
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..io.files import write_atomic, write_jsonl
from ..io.store import JudgmentStore
from ..io.trec import write_qrels
from ..judges.base import Judge
from ..records import Judgment, Pair
from .config import DEFAULT_ROUTING, ROUTING_SCORES
from .job import LabelFiles
from .local import LabelRun, label



@dataclass(frozen=True)
class Budget:
    """How many pairs the teacher may re-label: ``pairs``, a ``share`` of them, or ``usd`` of its worst-case cost."""

    pairs: int | None = None
    share: float | None = None
    usd: float | None = None

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``500`` (pairs), ``30%`` (share of the pairs) or ``$20`` (US dollars)."""
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
            raise ConfigError(f"budget {text!r}: a pair count is a whole number")
        return cls(pairs=int(value))

    def count(self, total: int, costs: Sequence[float]) -> int:
        """How many of ``total`` pairs, taken in order (``costs``: their worst-case costs), the budget buys."""
        if self.pairs is not None:
            return min(self.pairs, total)
        if self.share is not None:
            return int(round(self.share * total))
        spent = np.cumsum(np.asarray(costs, dtype=float))
        return int(np.searchsorted(spent, self.usd + 1e-12, side="right"))


def uncertainty(probs: np.ndarray, grades: Sequence[int], thresholds: Sequence[float], score: str) -> np.ndarray:
    """Each pair's routing score (higher: the student is less sure)."""
    if score == "entropy":
        return -(probs * np.log(np.clip(probs, 1e-12, None))).sum(axis=1)
    if score == "margin":
        top = np.sort(probs, axis=1)
        return 1 - (top[:, -1] - top[:, -2])
    if score == "cut":
        expected = probs @ np.asarray(grades, dtype=float)
        return -np.abs(expected[:, None] - np.asarray(thresholds)[None]).min(axis=1)
    raise ConfigError(f"routing score {score!r} is not one of {ROUTING_SCORES}")


def choose(pairs: Sequence[Pair], scores: np.ndarray, budget: Budget, teacher: Judge) -> list[Pair]:
    """The pairs the budget buys, least sure (highest score) first; ties go in pair order."""
    order = sorted(range(len(pairs)), key=lambda i: (-scores[i], pairs[i]))
    costs = [teacher.prices.cost(teacher.worst_case([pairs[i]])) for i in order] if budget.usd is not None else []
    return [pairs[i] for i in order[:budget.count(len(order), costs)]]


@dataclass(frozen=True)
class Routed:
    """A cascade's outcome: the merged labels, who gave each, and what each judge's run did."""

    labels: dict[Pair, int]
    provenance: list[dict[str, Any]]  # one row per pair, in pair order
    routed: list[Pair]  # the pairs given to the teacher, least sure first
    student_judgments: list[Judgment]  # the student's, of every pair
    teacher_judgments: list[Judgment]  # the teacher's stored answers for the routed pairs (any status)
    student_run: LabelRun
    teacher_run: LabelRun
    files: LabelFiles

    @property
    def sources(self) -> dict[str, int]:
        """How many merged labels each source gave."""
        return dict(sorted(Counter(row["source"] for row in self.provenance).items()))


def route_job(student: Any, teacher: Judge, pairs: Sequence[Pair], out: str | Path, budget: Budget,
              score: str = DEFAULT_ROUTING, progress: bool = True) -> Routed:
    """Label ``pairs`` with ``student``, re-label the least sure of them with ``teacher`` within ``budget``, and
    write the merged TREC labels to ``out`` and one provenance row per pair beside them."""
    from ..judges.cost import BilledJudge

    if budget.usd is not None and not isinstance(teacher, BilledJudge):
        raise ConfigError(f"a budget in dollars needs a teacher with prices; {teacher.fingerprint} has none")
    files = LabelFiles(Path(out))
    pairs = list(dict.fromkeys(pairs))
    with JudgmentStore(files.store) as store:
        student_run = label(student, pairs, store, progress=progress)
        mine = store.judgments(student.fingerprint, pairs)
        scores = uncertainty(np.array([j.probs for j in mine]), student.scale, student.card["thresholds"], score)
        routed = choose([j.pair for j in mine], scores, budget, teacher)
        teacher_run = label(teacher, routed, store, progress=progress)
        theirs = store.judgments(teacher.fingerprint, routed)
    answers = {j.pair: j for j in theirs}
    provenance = [_row(j, answers.get(j.pair), float(s), student.scale, teacher.scale)
                  for j, s in zip(mine, scores)]
    labels = {Pair(r["qid"], r["docid"]): r["grade"] for r in provenance}
    write_jsonl(files.provenance, provenance)
    write_atomic(files.job, json.dumps({"student": student.fingerprint, "teacher": teacher.fingerprint,
                                        "dataset": str(student.dataset.folder or ""), "routing": score,
                                        "budget": budget.__dict__, "routed": len(routed)}, indent=2) + "\n")
    write_qrels(files.labels, labels)
    return Routed(labels, provenance, routed, mine, theirs, student_run, teacher_run, files)


def _row(mine: Judgment, theirs: Judgment | None, score: float, student_scale: Sequence[int],
         scale: Sequence[int]) -> dict[str, Any]:
    """One pair's provenance: the merged grade, who gave it, and both judges' answers."""
    teacher = None
    if theirs is not None:
        teacher = {"grade": theirs.grade, "status": theirs.status, "judge": theirs.judge, "raw": theirs.raw,
                   "probs": dict(zip(map(str, scale), theirs.probs)) if theirs.probs else None}
    by_teacher = theirs is not None and theirs.status == "ok" and theirs.grade is not None
    return {"qid": mine.query_id, "docid": mine.doc_id, "grade": theirs.grade if by_teacher else mine.grade,
            "source": "teacher" if by_teacher else "student", "uncertainty": round(score, 6),
            "student": {"grade": mine.grade, "judge": mine.judge,
                        "probs": dict(zip(map(str, student_scale), mine.probs))}, "teacher": teacher}
