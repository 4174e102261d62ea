"""The Judge protocol, judge fingerprints, and the judge that answers from a table of known grades."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..records import Judgment, Pair


@runtime_checkable
class Judge(Protocol):
    """Anything that grades pairs. ``fingerprint`` identifies everything that determines its answers."""

    fingerprint: str

    def judge(self, pairs: Sequence[Pair]) -> Iterator[Judgment]:
        """One judgment per pair, in the order given."""
        ...


def make_fingerprint(kind: str, name: str, parts: Mapping[str, Any]) -> str:
    """``kind:name:hash`` — readable, and different whenever any part differs."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{kind}:{name}:{digest}"


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LookupJudge:
    """Answers from known grades: human qrels, or a label file replayed as a teacher.

    A pair the table does not cover gets ``status="no_label"`` and no grade — never a guessed one.
    """

    def __init__(self, grades: Mapping[Pair, int], fingerprint: str) -> None:
        self.grades, self.fingerprint = grades, fingerprint

    def judge(self, pairs: Sequence[Pair]) -> Iterator[Judgment]:
        for pair in pairs:
            grade = self.grades.get(pair)
            yield Judgment(pair.query_id, pair.doc_id, grade, self.fingerprint,
                           status="ok" if grade is not None else "no_label")
