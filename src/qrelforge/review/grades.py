"""An assessor's grades, saved durably one by one: each is an appended, fsynced JSONL line, and the last line of a
pair wins (an assessor may change their mind). A killed server or a closed tab loses nothing that was answered.

>>> import tempfile
>>> from qrelforge import Pair
>>> grades = AssessorGrades(tempfile.mkdtemp() + "/labels.txt.assessor.log.jsonl")
>>> grades.save(Pair("q1", "d1"), 2, "clear answer"); grades.save(Pair("q1", "d1"), 3, "")
>>> AssessorGrades(grades.path).latest()[Pair("q1", "d1")]["grade"]
3
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..io.files import append_jsonl, jsonl_objects, open_append_only
from ..records import Pair


class AssessorGrades:
    """One assessor log per label file."""

    def __init__(self, path: str | Path) -> None:
        self.path = open_append_only(path)

    def save(self, pair: Pair, grade: int, note: str) -> None:
        """Append this grade and fsync it before returning."""
        append_jsonl(
            self.path,
            [{"qid": pair.query_id, "docid": pair.doc_id, "grade": grade, "note": note, "time": round(time.time(), 3)}],
        )

    def latest(self) -> dict[Pair, dict[str, Any]]:
        """Each pair's last saved grade and note."""
        return {Pair(row["qid"], row["docid"]): row for _, row in jsonl_objects(self.path, "assessor grades")}
