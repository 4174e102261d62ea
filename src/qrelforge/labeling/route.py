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
Both judges label through ``label_job``, so the student may run on Ray.

>>> [round(s, 2) + 0.0 for s in uncertainty([[0.5, 0.5], [0.9, 0.1]], (0, 1), (0.5,), "cut")]
[0.0, -0.4]
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..datasets import Dataset
from ..errors import ConfigError
from ..io.files import write_atomic, write_jsonl
from ..io.store import JudgmentStore
from ..io.trec import write_qrels
from ..judges.base import Judge, Texts
from ..judges.cost import Budget, worst_cost
from ..records import Answer, Judgment, Pair, Provenance
from .config import DEFAULT_ROUTING, ROUTING_SCORES, RayOptions
from .job import LabelFiles, label_job
from .local import LabelRun


def uncertainty(
    probs: Sequence[Sequence[float]], grades: Sequence[int], thresholds: Sequence[float] | None, score: str
) -> list[float]:
    """Each pair's routing score (higher: the student is less sure); ``cut`` needs the student's thresholds."""
    import numpy as np

    p = np.asarray(probs, dtype=float).reshape(len(probs), len(grades))
    if score == "entropy":
        return (-(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1)).tolist()
    if score == "margin":
        top = np.sort(p, axis=1)
        return (1 - (top[:, -1] - top[:, -2])).tolist()
    if score == "cut":
        if thresholds is None:
            raise ConfigError(
                "routing by 'cut' needs a student's grade thresholds (its card); route by margin or entropy instead"
            )
        expected = p @ np.asarray(grades, dtype=float)
        return (-np.abs(expected[:, None] - np.asarray(thresholds)[None]).min(axis=1)).tolist()
    raise ConfigError(f"routing score {score!r} is not one of {ROUTING_SCORES}")


def choose(pairs: Sequence[Pair], scores: Sequence[float], budget: Budget, teacher: Judge, texts: Texts) -> list[Pair]:
    """The pairs the budget buys, least sure (highest score) first; ties go in pair order."""
    order = sorted(range(len(pairs)), key=lambda i: (-scores[i], pairs[i]))
    ranked = [pairs[i] for i in order]
    costs = worst_cost(teacher, ranked, texts) if budget.usd is not None else []
    return ranked[: budget.count(len(ranked), costs)]


@dataclass(frozen=True)
class Routed:
    """A cascade's outcome: the merged labels, who gave each, and what each judge's run did."""

    labels: dict[Pair, int]
    provenance: list[Provenance]  # one per pair, in pair order
    routed: list[Pair]  # the pairs given to the teacher, least sure first
    student_judgments: list[Judgment]  # the student's, of every pair
    teacher_judgments: list[Judgment]  # the teacher's stored answers for the routed pairs (any status)
    student_run: LabelRun
    teacher_run: LabelRun
    files: LabelFiles

    @property
    def sources(self) -> dict[str, int]:
        """How many merged labels each source gave."""
        return source_counts(self.provenance)


def source_counts(provenance: Sequence[Provenance]) -> dict[str, int]:
    """How many of a merged job's labels each source (``student``, ``teacher``) gave."""
    return dict(sorted(Counter(row.source for row in provenance).items()))


def route_job(
    student: Judge,
    teacher: Judge,
    pairs: Sequence[Pair],
    texts: Dataset,
    out: str | Path,
    budget: Budget,
    score: str = DEFAULT_ROUTING,
    ray: RayOptions | None = None,
    progress: bool = True,
) -> Routed:
    """Label ``pairs`` of the dataset ``texts`` with ``student`` (on Ray with ``ray``), re-label the least sure of
    them with ``teacher`` within ``budget``, and write the merged TREC labels to ``out`` and one provenance row per
    pair beside them (and the job's settings, which ``review`` reads)."""
    if not student.traits.probabilities:
        raise ConfigError(f"routing reads a student's grade probabilities; {student.fingerprint} gives none")
    budget.check(teacher)
    files = LabelFiles(Path(out))
    with JudgmentStore(files.store) as store:
        mine = label_job(student, pairs, texts, store=store, ray=ray, progress=progress)
        answered = [j for j in mine.judgments if j.probs is not None]
        card = student.traits.card
        scores = uncertainty([j.probs or () for j in answered], student.scale, card.thresholds if card else None, score)
        routed = choose([j.pair for j in answered], scores, budget, teacher, texts)
        theirs = label_job(teacher, routed, texts, store=store, progress=progress)
    by_pair = {j.pair: j for j in theirs.judgments}
    uncertain = {j.pair: s for j, s in zip(answered, scores)}
    provenance = [
        routed_provenance(j, by_pair.get(j.pair), uncertain.get(j.pair), student.scale, teacher.scale)
        for j in mine.judgments
    ]
    labels = {row.pair: row.grade for row in provenance if row.grade is not None}
    write_jsonl(files.provenance, (row.to_json() for row in provenance))
    write_atomic(
        files.job,
        json.dumps(
            {
                "student": student.fingerprint,
                "teacher": teacher.fingerprint,
                "dataset": str(texts.folder or ""),
                "routing": score,
                "budget": asdict(budget),
                "routed": len(routed),
            },
            indent=2,
        )
        + "\n",
    )
    write_qrels(files.labels, labels)
    return Routed(labels, provenance, routed, mine.judgments, theirs.judgments, mine.run, theirs.run, files)


def routed_provenance(
    mine: Judgment, theirs: Judgment | None, score: float | None, student_scale: Sequence[int], scale: Sequence[int]
) -> Provenance:
    """One pair's provenance: the merged grade (the teacher's where it gave one), who gave it, and both answers."""
    by_teacher = theirs is not None and theirs.ok
    chosen = theirs if by_teacher and theirs is not None else mine
    return Provenance(
        mine.pair,
        chosen.grade,
        "teacher" if by_teacher else "student",
        chosen.judge,
        score,
        Answer.of(mine, student_scale),
        Answer.of(theirs, scale) if theirs is not None else None,
    )
