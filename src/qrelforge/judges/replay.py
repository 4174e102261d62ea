"""Judges that replay recorded labels: a dataset's human qrels, or an LLM judge's label file.

Label files are TREC qrels (``qid 0 docid grade``), a Parquet table of the same rows as the JSONL, or UMBRELA-style
JSONL, one object per line with the
query id under ``qid``/``query_id``, the doc id under ``docid``/``doc_id``/``pid`` and the integer grade under
``judgment``/``score``/``grade``/``relevance``. A JSONL line may also carry the judge's grade probabilities as
``"probs": {"0": 0.1, "1": 0.6, ...}`` (soft targets for training).

>>> from qrelforge import Batch, human_judge, load_dataset, replay_judge
>>> demo = load_dataset("dl20-demo")
>>> gpt4o = replay_judge(demo.folder / "teacher-gpt-4o-umbrela.txt")
>>> gpt4o.judge(Batch(demo.pairs[:1], demo))[0].status, human_judge(demo).fingerprint.startswith("human:")
('ok', True)
"""

from __future__ import annotations

import codecs
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from ..datasets import Dataset
from ..errors import InputFormatError
from ..fingerprint import file_digest, make_fingerprint
from ..io.files import jsonl_objects, write_jsonl
from ..io.parquet import read_parquet_rows
from ..io.trec import check_grade, read_qrels
from ..records import Judgment, Pair
from .base import LookupJudge

QUERY_KEYS, DOC_KEYS, GRADE_KEYS = (
    ("qid", "query_id"),
    ("docid", "doc_id", "pid"),
    ("judgment", "score", "grade", "relevance"),
)


def human_judge(dataset: Dataset) -> LookupJudge:
    """The dataset's human assessors, as a Judge."""
    digest = make_fingerprint("human", dataset.name, {str(p): g for p, g in sorted(dataset.qrels.items())})
    return LookupJudge(dataset.qrels, digest)


def replay_judge(path: str | Path, scale: Collection[int] | None = None) -> LookupJudge:
    """A recorded label file (TREC qrels or UMBRELA-style JSONL), as a Judge; with ``scale``, every grade in the
    file must be on it."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, None, "an existing label file (TREC qrels or label JSONL)", "no such file")
    fingerprint = make_fingerprint("replay", path.stem, {"sha256": file_digest(path)})
    if path.suffix == ".parquet":
        grades, probs = read_label_rows(path, enumerate(read_parquet_rows(path, ()), start=1), scale)
    elif _looks_like_jsonl(path):
        grades, probs = read_label_rows(path, jsonl_objects(path, "labels"), scale)
    else:
        return LookupJudge(read_qrels(path, scale=scale), fingerprint)
    scale = sorted({g for p in probs.values() for g in p} | set(grades.values()))
    return LookupJudge(
        grades, fingerprint, {pair: tuple(p.get(g, 0.0) for g in scale) for pair, p in probs.items()}, scale
    )


def read_label_jsonl(
    path: Path, scale: Collection[int] | None = None
) -> tuple[dict[Pair, int], dict[Pair, dict[int, float]]]:
    """Grades, and the grade probabilities of the lines that have them, from an UMBRELA-style JSONL label file."""
    return read_label_rows(path, jsonl_objects(path, "labels"), scale)


def read_label_rows(
    path: Path, rows: Iterable[tuple[int, dict]], scale: Collection[int] | None = None
) -> tuple[dict[Pair, int], dict[Pair, dict[int, float]]]:
    """Grades and grade probabilities from numbered label rows (a label JSONL's lines, a label Parquet's rows)."""
    grades: dict[Pair, int] = {}
    probs: dict[Pair, dict[int, float]] = {}
    for number, obj in rows:
        qid, did, grade = (_first(obj, keys) for keys in (QUERY_KEYS, DOC_KEYS, GRADE_KEYS))
        if qid is None or did is None or not isinstance(grade, int) or isinstance(grade, bool):
            raise InputFormatError(
                path,
                number,
                f"a query id ({'/'.join(QUERY_KEYS)}), a doc id ({'/'.join(DOC_KEYS)}) "
                f"and an integer grade ({'/'.join(GRADE_KEYS)})",
                f"keys {sorted(obj)}",
            )
        pair = Pair(str(qid), str(did))
        check_grade(path, number, grade, scale)
        if grades.get(pair, grade) != grade:
            raise InputFormatError(
                path, number, f"one grade per pair ({qid}/{did} has {grades[pair]})", f"grade {grade}"
            )
        grades[pair] = grade
        if obj.get("probs") is not None:
            probs[pair] = _grade_probs(obj["probs"], path, number)
    return grades, probs


def label_rows(judgments: Iterable[Judgment], scale: Sequence[int]) -> list[dict]:
    """The graded judgments as label rows (``qid``, ``docid``, ``judgment``, ``probs`` over ``scale``): the label
    JSONL's lines, UMBRELA's keys."""
    return [
        {
            "qid": j.query_id,
            "docid": j.doc_id,
            "judgment": j.grade,
            "probs": {str(g): p for g, p in zip(scale, j.probs)} if j.probs else None,
        }
        for j in judgments
        if j.ok
    ]


def write_label_jsonl(path: str | Path, judgments: Iterable[Judgment], scale: Sequence[int]) -> int:
    """Write the graded judgments as a label JSONL with their grade probabilities over ``scale``; returns the count."""
    rows = label_rows(judgments, scale)
    write_jsonl(path, rows)
    return len(rows)


def _grade_probs(value: object, path: Path, number: int) -> dict[int, float]:
    expected = 'grade probabilities as an object of grade -> probability, e.g. "probs": {"0": 0.2, "1": 0.8}'
    try:
        if not isinstance(value, Mapping):
            raise ValueError
        probs = {int(g): float(p) for g, p in value.items()}
    except (TypeError, ValueError):
        raise InputFormatError(path, number, expected, repr(value)[:80]) from None
    if any(p < 0 for p in probs.values()) or abs(sum(probs.values()) - 1) > 0.01:
        raise InputFormatError(path, number, expected + " (non-negative, summing to 1)", repr(value)[:80])
    return probs


def _first(obj: dict, keys: tuple[str, ...]) -> object:
    return next((obj[k] for k in keys if obj.get(k) is not None), None)


def _looks_like_jsonl(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(codecs.BOM_UTF8).lstrip()
    return head.startswith(b"{")
