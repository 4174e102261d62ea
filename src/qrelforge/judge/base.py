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
    """Anything that grades pairs. ``fingerprint`` identifies everything that determines its answers; ``scale`` is
    the grades it gives, in the order of a judgment's ``probs``."""

    fingerprint: str
    scale: tuple[int, ...]

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

    A pair the table does not cover gets ``status="no_label"`` and no grade — never a guessed one. Recorded grade
    probabilities (``probs``, over ``scale``; by default the grades present) are given back with their grades.
    """

    def __init__(self, grades: Mapping[Pair, int], fingerprint: str,
                 probs: Mapping[Pair, tuple[float, ...]] | None = None, scale: Sequence[int] | None = None) -> None:
        self.grades, self.fingerprint, self.probs = grades, fingerprint, probs or {}
        self.scale = tuple(scale) if scale else tuple(sorted(set(grades.values())))

    def judge(self, pairs: Sequence[Pair]) -> Iterator[Judgment]:
        for pair in pairs:
            grade = self.grades.get(pair)
            yield Judgment(pair.query_id, pair.doc_id, grade, self.fingerprint,
                           status="ok" if grade is not None else "no_label", probs=self.probs.get(pair))
