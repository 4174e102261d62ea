"""Judges that replay recorded labels: a dataset's human qrels, or an LLM judge's label file.

Label files are TREC qrels (``qid 0 docid grade``) or UMBRELA-style JSONL, one object per line with the
query id under ``qid``/``query_id``, the doc id under ``docid``/``doc_id``/``pid`` and the integer grade under
``judgment``/``score``/``grade``/``relevance``.
"""
from __future__ import annotations

from pathlib import Path

from ..datasets import Dataset
from ..errors import InputFormatError
from ..io.files import jsonl_objects
from ..io.trec import read_qrels
from ..records import Pair
from .base import LookupJudge, file_digest, make_fingerprint

QUERY_KEYS, DOC_KEYS, GRADE_KEYS = ("qid", "query_id"), ("docid", "doc_id", "pid"), ("judgment", "score", "grade", "relevance")


def human_judge(dataset: Dataset) -> LookupJudge:
    """The dataset's human assessors, as a Judge."""
    digest = make_fingerprint("human", dataset.name, {str(p): g for p, g in sorted(dataset.qrels.items())})
    return LookupJudge(dataset.qrels, digest)


def replay_judge(path: str | Path) -> LookupJudge:
    """A recorded label file (TREC qrels or UMBRELA-style JSONL), as a Judge."""
    path = Path(path)
    grades = read_label_jsonl(path) if _looks_like_jsonl(path) else read_qrels(path)
    return LookupJudge(grades, make_fingerprint("replay", path.stem, {"sha256": file_digest(path)}))


def read_label_jsonl(path: Path) -> dict[Pair, int]:
    """Grades from an UMBRELA-style JSONL label file."""
    grades: dict[Pair, int] = {}
    for number, obj in jsonl_objects(path, "labels"):
        qid, did, grade = (_first(obj, keys) for keys in (QUERY_KEYS, DOC_KEYS, GRADE_KEYS))
        if qid is None or did is None or not isinstance(grade, int) or isinstance(grade, bool):
            raise InputFormatError(path, number, f"a query id ({'/'.join(QUERY_KEYS)}), a doc id ({'/'.join(DOC_KEYS)}) "
                                   f"and an integer grade ({'/'.join(GRADE_KEYS)})", f"keys {sorted(obj)}")
        pair = Pair(str(qid), str(did))
        if grades.get(pair, grade) != grade:
            raise InputFormatError(path, number, f"one grade per pair ({qid}/{did} has {grades[pair]})", f"grade {grade}")
        grades[pair] = grade
    return grades


def _first(obj: dict, keys: tuple[str, ...]) -> object:
    return next((obj[k] for k in keys if obj.get(k) is not None), None)


def _looks_like_jsonl(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open(encoding="utf-8") as handle:
        head = handle.read(4096).lstrip()
    return head.startswith("{")
