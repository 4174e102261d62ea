"""What the review page shows: each labeled pair with its texts and the judges' answers, the most contested first.

The pairs come from a job's provenance (``LABELS.provenance.jsonl``: a routed job's student and teacher side by side,
a panel's members, an audit's judges beside the human grade) or, for a plain labeling job, from its judgment store
(one judge). Order: an audit's most suspect human grades first (as ``AUDIT.tsv`` lists them); otherwise the pairs
where the judges are furthest apart first, then the ones the student is least sure of.

>>> highlight("Cats sleep a lot; a cat is small.", "why do cats sleep")
[['Cats', True], [' ', False], ['sleep', True], [' a lot; a ', False], ['cat', True], [' is small.', False]]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets import Dataset
from ..errors import ConfigError, InputFormatError
from ..io.files import jsonl_objects
from ..labeling.audit import audit_distance
from ..labeling.job import LabelFiles, stored_judgments
from ..records import Answer, Pair, Provenance

WORD = re.compile(r"\w+")
STOPWORDS = frozenset(
    "the and for are was were what when where which who why how does did with from that this "
    "into your you its has have had can not but all any our out".split()
)


@dataclass(frozen=True)
class ReviewItem:
    pair: Pair
    query: str
    passage: list[list[Any]]  # [text, is a query term] segments: the page marks the terms, never parses HTML
    grade: int | None  # the label the job wrote
    source: str  # who gave it: student, teacher, or the plain job's judge
    student: Answer | None
    teacher: Answer | None
    disagreement: float  # an audit's score, else the spread of the judges' grades
    uncertainty: float  # an audit's expected distance, else the student's routing score
    members: tuple[Answer, ...] = ()  # a panel's or an audit's judges
    audited: bool = False  # the label is a human grade under audit

    def to_json(self) -> dict[str, Any]:
        return {
            "qid": self.pair.query_id,
            "docid": self.pair.doc_id,
            "query": self.query,
            "passage": self.passage,
            "grade": self.grade,
            "source": self.source,
            "student": self.student.to_json() if self.student else None,
            "teacher": self.teacher.to_json() if self.teacher else None,
            "members": [answer.to_json() for answer in self.members],
            "audit": round(self.disagreement, 4) if self.audited else None,
        }


def highlight(text: str, query: str) -> list[list[Any]]:
    """``text`` cut into segments, the words that match a query term (or its singular) marked."""
    terms = {w.lower() for w in WORD.findall(query) if len(w) > 2 and w.lower() not in STOPWORDS}
    terms |= {t[:-1] for t in terms if t.endswith("s")}
    segments: list[list[Any]] = []
    last = 0
    for match in WORD.finditer(text):
        word = match.group().lower()
        if word in terms or (word.endswith("s") and word[:-1] in terms):
            if match.start() > last:
                segments.append([text[last : match.start()], False])
            segments.append([match.group(), True])
            last = match.end()
    if last < len(text):
        segments.append([text[last:], False])
    return segments


def load_items(labels: str | Path, dataset: Dataset) -> list[ReviewItem]:
    """The review items of the job whose labels are ``labels``, over ``dataset``'s texts, the most contested first."""
    files = LabelFiles(Path(labels))
    rows = _provenance(files) if files.provenance.is_file() else _plain_job(files, dataset.grades)
    items = []
    for row in rows:
        pair = row.pair
        if pair.query_id not in dataset.queries or pair.doc_id not in dataset.docs:
            raise ConfigError(
                f"{labels}: pair {pair.query_id}/{pair.doc_id} is not in the dataset "
                f"{dataset.name}; review it with the --dataset it was labeled over"
            )
        answers = (row.student, row.teacher, *row.members)
        grades = [a.grade for a in answers if a is not None and a.grade is not None]
        spread = float(max(grades) - min(grades)) if len(grades) > 1 else 0.0
        query = dataset.queries[pair.query_id]
        items.append(
            ReviewItem(
                pair,
                query,
                highlight(dataset.docs[pair.doc_id], query),
                row.grade,
                row.source,
                row.student,
                row.teacher,
                row.audit if row.audit is not None else spread,
                audit_distance(row.members, row.grade or 0) if row.audit is not None else row.uncertainty or 0.0,
                row.members,
                row.audit is not None,
            )
        )
    return sorted(items, key=lambda i: (-i.disagreement, -i.uncertainty, i.pair))


def _provenance(files: LabelFiles) -> list[Provenance]:
    rows = []
    for number, obj in jsonl_objects(files.provenance, "a labeling job's provenance"):
        try:
            rows.append(Provenance.from_json(obj))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputFormatError(
                files.provenance,
                number,
                "a provenance row (qid, docid, grade, source, ...)",
                f"{type(exc).__name__}: {exc}",
            ) from None
    return rows


def _plain_job(files: LabelFiles, grades: Sequence[int]) -> list[Provenance]:
    """A plain job's judgments as provenance (one judge, its probabilities over the dataset's ``grades``; its
    uncertainty: one minus its top probability)."""
    if not files.store.is_file():
        raise ConfigError(
            f"{files.labels}: no {files.provenance.name} and no {files.store.name} beside it; review "
            "the labels of a 'qrelforge label' job"
        )
    by_judge = stored_judgments(files.store)
    if len(by_judge) != 1:
        raise ConfigError(f"{files.store}: expected the judgments of one judge; found {len(by_judge)}")
    rows = []
    for j in next(iter(by_judge.values())):
        try:
            answer = Answer.of(j, grades)
        except ValueError as exc:
            raise ConfigError(f"{files.store}: {exc}: review it with the dataset it was labeled over") from None
        rows.append(
            Provenance(j.pair, j.grade, j.judge.split(":")[0], j.judge, 1 - max(j.probs) if j.probs else 0.0, answer)
        )
    return rows
