"""TREC qrels (``qid iter docid grade``) and run (``qid Q0 docid rank score tag``) files.

>>> import tempfile
>>> from qrelforge import Pair, read_qrels, write_qrels
>>> path = tempfile.mkdtemp() + "/qrels.txt"
>>> write_qrels(path, {Pair("q1", "d1"): 2})
>>> read_qrels(path)
{Pair(query_id='q1', doc_id='d1'): 2}
"""

from __future__ import annotations

from collections.abc import Collection, Container, Iterable, Mapping
from pathlib import Path

from ..errors import InputFormatError
from ..records import Pair
from .files import numbered_lines, write_atomic

QRELS_FORMAT = "4 whitespace-separated fields 'query_id iteration doc_id grade' with an integer grade"


def parse_grade(path: str | Path, number: int, value: str) -> int:
    """An integer grade from a text field, or an error naming the file and line."""
    try:
        return int(value)
    except ValueError:
        raise InputFormatError(path, number, "an integer grade", repr(value)) from None


def check_grade(path: str | Path, number: int, grade: int, scale: Collection[int] | None) -> None:
    """Raise unless the grade is on the scale (when one is given)."""
    if scale is not None and grade not in scale:
        raise InputFormatError(
            path,
            number,
            f"a grade on the scale {sorted(scale)} (another scale: say it, e.g. "
            f"--grades or a grades.txt in the dataset folder)",
            f"grade {grade}",
        )


def check_ids(
    path: str | Path, number: int, pair: Pair, queries: Container[str] | None, docs: Container[str] | None
) -> None:
    """Raise unless the pair's ids are among the known ones (when those are given)."""
    if queries is not None and pair.query_id not in queries:
        raise InputFormatError(path, number, "a query id listed in the dataset's queries", repr(pair.query_id))
    if docs is not None and pair.doc_id not in docs:
        raise InputFormatError(path, number, "a doc id listed in the dataset's docs", repr(pair.doc_id))


def read_qrels(
    path: str | Path,
    queries: Container[str] | None = None,
    docs: Container[str] | None = None,
    scale: Collection[int] | None = None,
) -> dict[Pair, int]:
    """Read a TREC qrels file; with ``queries``/``docs`` given, every id must be among them, and with ``scale``
    every grade must be on it.

    A pair listed twice with two different grades is an error.
    """
    grades: dict[Pair, int] = {}
    first_line: dict[Pair, int] = {}
    for number, line in numbered_lines(path, "TREC qrels"):
        fields = line.split()
        if len(fields) != 4:
            raise InputFormatError(path, number, QRELS_FORMAT, f"{len(fields)} fields: {line[:80]!r}")
        pair, grade = Pair(fields[0], fields[2]), parse_grade(path, number, fields[3])
        check_ids(path, number, pair, queries, docs)
        check_grade(path, number, grade, scale)
        if pair in grades and grades[pair] != grade:
            raise InputFormatError(
                path,
                number,
                f"one grade per pair (line {first_line[pair]} gave {pair.query_id}/{pair.doc_id} grade {grades[pair]})",
                f"grade {grade}",
            )
        grades[pair] = grade
        first_line.setdefault(pair, number)
    return grades


def read_pairs(
    path: str | Path, queries: Container[str] | None = None, docs: Container[str] | None = None
) -> list[Pair]:
    """Unique pairs, in file order, from a TREC qrels (grades ignored) or run file; ids checked as in read_qrels."""
    pairs: dict[Pair, None] = {}
    for number, line in numbered_lines(path, "TREC qrels or run lines"):
        fields = line.split()
        if len(fields) not in (4, 6):
            raise InputFormatError(
                path,
                number,
                "a TREC qrels line (4 fields) or run line (6 fields: qid Q0 docid rank score tag)",
                f"{len(fields)} fields: {line[:80]!r}",
            )
        pair = Pair(fields[0], fields[2])
        check_ids(path, number, pair, queries, docs)
        pairs[pair] = None
    return list(pairs)


def read_run(
    path: str | Path, queries: Container[str] | None = None, docs: Container[str] | None = None
) -> dict[str, dict[str, float]]:
    """A TREC run file (``qid Q0 docid rank score tag``) as query -> doc -> score; ids checked as in read_qrels.

    A doc listed twice for one query is an error (a run ranks each doc once).
    """
    run: dict[str, dict[str, float]] = {}
    for number, line in numbered_lines(path, "a TREC run: 'qid Q0 docid rank score tag'"):
        fields = line.split()
        if len(fields) != 6:
            raise InputFormatError(path, number, "6 fields: qid Q0 docid rank score tag", f"{len(fields)} fields")
        try:
            score = float(fields[4])
        except ValueError:
            raise InputFormatError(path, number, "a number as the score (field 5)", repr(fields[4])) from None
        pair = Pair(fields[0], fields[2])
        check_ids(path, number, pair, queries, docs)
        ranked = run.setdefault(pair.query_id, {})
        if pair.doc_id in ranked:
            raise InputFormatError(path, number, f"each doc once per query ({pair.doc_id} is ranked again)", line[:80])
        ranked[pair.doc_id] = score
    return run


def write_qrels(path: str | Path, grades: Mapping[Pair, int] | Iterable[tuple[Pair, int]]) -> None:
    """Write grades as a TREC qrels file, atomically, sorted by query then document id."""
    items = grades.items() if isinstance(grades, Mapping) else grades
    lines = [f"{pair.query_id} 0 {pair.doc_id} {grade}\n" for pair, grade in sorted(items)]
    write_atomic(path, "".join(lines))


def write_run(path: str | Path, run: Mapping[str, Mapping[str, float]], tag: str) -> None:
    """Write a TREC run file (``qid Q0 docid rank score tag``), best first per query, atomically."""
    lines = []
    for query_id in sorted(run):
        ranked = sorted(run[query_id].items(), key=lambda item: (-item[1], item[0]))
        lines += [
            f"{query_id} Q0 {doc_id} {rank} {score:.6f} {tag}\n" for rank, (doc_id, score) in enumerate(ranked, 1)
        ]
    write_atomic(path, "".join(lines))
