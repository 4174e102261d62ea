"""qrelforge in PyTerrier pipelines (the optional ``pyterrier`` extra; no Java needed: only PyTerrier's Python parts).

- ``Labeler(judge)``: a transformer that adds ``label`` (the grade; NaN where the judge gave none) and one ``p_G``
  column per grade to a results frame (``qid, query, docno, text``), from any qrelforge judge spec (a student folder,
  a teacher YAML, a label file), batched and cached in a judgment store, so a rerun asks nothing twice.
- ``Reranker(student)``: the student as a re-ranker (``score`` = its expected grade).
- ``as_qrels(labels)``: qrelforge labels as the qrels frame ``pt.Experiment`` and ir_measures read.

>>> import pandas as pd
>>> from qrelforge import Pair
>>> as_qrels({Pair("q1", "d1"): 2}).to_dict("records")
[{'qid': 'q1', 'docno': 'd1', 'label': 2}]
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .datasets import Dataset
from .judges.base import Batch, TextTable
from .labeling.job import label_job, load_judge
from .records import Pair


def _transformer_base() -> type:
    try:
        import pyterrier as pt
    except ImportError:
        raise ImportError("qrelforge.pyterrier needs PyTerrier: pip install 'qrelforge[pyterrier]'") from None
    return pt.Transformer


def frame_batch(frame: Any) -> Batch:
    """A results frame's pairs, in row order, with its query and doc texts: the batch a judge reads."""
    texts = TextTable(
        dict(zip(frame["qid"].astype(str), frame["query"])), dict(zip(frame["docno"].astype(str), frame["text"]))
    )
    return Batch([Pair(str(q), str(d)) for q, d in zip(frame["qid"], frame["docno"])], texts)


def as_qrels(labels: Mapping[Pair, int]) -> Any:
    """Labels as a qrels frame: ``qid``, ``docno``, ``label``."""
    import pandas as pd

    return pd.DataFrame(
        [{"qid": p.query_id, "docno": p.doc_id, "label": g} for p, g in sorted(labels.items())],
        columns=["qid", "docno", "label"],
    )


class Labeler(_transformer_base()):  # type: ignore[misc]
    """Label a results frame's pairs with a judge; judgments are kept in ``store_dir`` (default: a temporary one)."""

    def __init__(self, judge: str | Path, store_dir: str | Path | None = None, progress: bool = False) -> None:
        self.judge = load_judge(judge, Dataset("pyterrier", queries={}, docs={}, qrels={}))
        self.store = Path(store_dir or tempfile.mkdtemp(prefix="qrelforge-pt-")) / "labels.txt.judgments.jsonl"
        self.progress = progress

    def transform(self, frame: Any) -> Any:
        batch = frame_batch(frame)
        labeled = label_job(self.judge, batch.pairs, batch.texts, store=self.store, progress=self.progress)
        judged = {j.pair: j for j in labeled.judgments}
        out = frame.copy()
        out["label"] = [judged[p].grade if judged[p].ok else float("nan") for p in batch.pairs]
        for k, grade in enumerate(self.judge.scale):
            out[f"p_{grade}"] = [probs[k] if (probs := judged[p].probs) else float("nan") for p in batch.pairs]
        return out


class Reranker(_transformer_base()):  # type: ignore[misc]
    """A student's expected grade as the ``score`` of each row, ranks recomputed per query."""

    def __init__(self, student: str | Path) -> None:
        from .students.student import load_student

        self.student = load_student(student)

    def transform(self, frame: Any) -> Any:
        import pyterrier as pt

        batch = frame_batch(frame)
        out = frame.copy()
        out["score"] = self.student.expected_grades(batch) if batch.pairs else []
        return pt.model.add_ranks(out)
