"""What the review page shows: each labeled pair with its texts and both judges' answers, the most contested first.

The pairs come from a routed job's provenance (``LABELS.provenance.jsonl``: student and teacher side by side) or,
for a plain labeling job, from its judgment store (one judge). Order: the pairs where student and teacher are
furthest apart first, then the ones the student is least sure of.

>>> highlight("Cats sleep a lot; a cat is small.", "why do cats sleep")
[['Cats', True], [' ', False], ['sleep', True], [' a lot; a ', False], ['cat', True], [' is small.', False]]
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets import Dataset
from ..errors import ConfigError
from ..io.files import jsonl_objects
from ..io.store import JudgmentStore
from ..labeling.job import LabelFiles
from ..records import Pair

WORD = re.compile(r"\w+")
STOPWORDS = frozenset("the and for are was were what when where which who why how does did with from that this "
                      "into your you its has have had can not but all any our out".split())


@dataclass(frozen=True)
class ReviewItem:
    pair: Pair
    query: str
    passage: list[list[Any]]  # [text, is a query term] segments: the page marks the terms, never parses HTML
    grade: int | None  # the label the job wrote
    source: str  # who gave it: student, teacher, or the plain job's judge
    student: dict[str, Any] | None
    teacher: dict[str, Any] | None
    disagreement: float
    uncertainty: float

    def to_json(self) -> dict[str, Any]:
        return {"qid": self.pair.query_id, "docid": self.pair.doc_id, "query": self.query, "passage": self.passage,
                "grade": self.grade, "source": self.source, "student": self.student, "teacher": self.teacher}


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
                segments.append([text[last:match.start()], False])
            segments.append([match.group(), True])
            last = match.end()
    if last < len(text):
        segments.append([text[last:], False])
    return segments


def load_items(labels: str | Path, dataset: Dataset) -> list[ReviewItem]:
    """The review items of the job whose labels are ``labels``, over ``dataset``'s texts, the most contested first."""
    files = LabelFiles(Path(labels))
    rows = ([row for _, row in jsonl_objects(files.provenance, "a routed job's provenance")]
            if files.provenance.is_file() else _store_rows(files))
    items = []
    for row in rows:
        pair = Pair(str(row["qid"]), str(row["docid"]))
        if pair.query_id not in dataset.queries or pair.doc_id not in dataset.docs:
            raise ConfigError(f"{labels}: pair {pair.query_id}/{pair.doc_id} is not in the dataset "
                              f"{dataset.name}; review it with the --dataset it was labeled over")
        student, teacher = row.get("student"), row.get("teacher")
        both = student and teacher and teacher.get("grade") is not None and student.get("grade") is not None
        query = dataset.queries[pair.query_id]
        items.append(ReviewItem(pair, query, highlight(dataset.docs[pair.doc_id], query), row.get("grade"),
                                row["source"], student, teacher,
                                abs(student["grade"] - teacher["grade"]) if both else 0.0,
                                float(row.get("uncertainty") or 0.0)))
    return sorted(items, key=lambda i: (-i.disagreement, -i.uncertainty, i.pair))


def _store_rows(files: LabelFiles) -> list[dict[str, Any]]:
    """A plain job's judgments as provenance rows (one judge; its uncertainty: one minus its top probability)."""
    if not files.store.is_file():
        raise ConfigError(f"{files.labels}: no {files.provenance.name} and no {files.store.name} beside it; review "
                          "the labels of a 'qrelforge label' job")
    store = JudgmentStore(files.store)
    judges = store.judges()
    if len(judges) != 1:
        raise ConfigError(f"{files.store}: expected the judgments of one judge; found {len(judges)}")
    rows = []
    for j in store.judgments(judges[0]):
        answer = {"grade": j.grade, "status": j.status, "judge": j.judge, "raw": j.raw,
                  "probs": dict(zip(map(str, range(len(j.probs))), j.probs)) if j.probs else None}
        rows.append({"qid": j.query_id, "docid": j.doc_id, "grade": j.grade, "source": j.judge.split(":")[0],
                     "uncertainty": 1 - max(j.probs) if j.probs else 0.0, "student": answer, "teacher": None})
    return rows
