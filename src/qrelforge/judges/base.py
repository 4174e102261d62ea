"""The Judge protocol, and the judge that answers from a table of known grades.

>>> from qrelforge import LookupJudge, Pair
>>> judge = LookupJudge({Pair("q1", "d1"): 3}, "replay:demo:0")
>>> [(j.grade, j.status) for j in judge.judge([Pair("q1", "d1"), Pair("q1", "d9")])]
[(3, 'ok'), (None, 'no_label')]
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from ..records import Judgment, Pair


@runtime_checkable
class Judge(Protocol):
    """Anything that grades pairs. ``fingerprint`` identifies everything that determines its answers; ``scale`` is
    the grades it gives, in the order of a judgment's ``probs``. A judge may also name ``batch_pairs``, the pairs a
    labeling job hands it at a time (each batch is stored before the next is asked for)."""

    fingerprint: str
    scale: tuple[int, ...]

    def judge(self, pairs: Sequence[Pair]) -> Iterator[Judgment]:
        """One judgment per pair, in the order given."""
        ...


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
