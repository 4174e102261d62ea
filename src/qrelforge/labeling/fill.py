"""Fill the holes of a run: the pairs of each query's top K that no human judged are labeled by a judge, merged
with the human qrels (a human label always wins), and the run is evaluated on both qrels side by side.

>>> from qrelforge import Pair
>>> holes({"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}}, {Pair("q1", "d1"): 2}, depth=2)
[Pair(query_id='q1', doc_id='d2')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..evaluate.ranking import Run, per_query
from ..io.files import write_jsonl
from ..io.trec import write_qrels
from ..judges.base import Judge, Texts
from ..records import Pair, Provenance
from .job import LabelFiles, label_job
from .local import LabelRun

MEASURES = ("nDCG@10", "Judged@10")


def holes(run: Run, qrels: Mapping[Pair, int], depth: int) -> list[Pair]:
    """The pairs of each query's top ``depth`` (by score, ties by doc id) without a human label, in rank order."""
    out = []
    for query_id in sorted(run):
        ranked = sorted(run[query_id].items(), key=lambda item: (-item[1], item[0]))[:depth]
        out += [Pair(query_id, doc_id) for doc_id, _ in ranked if Pair(query_id, doc_id) not in qrels]
    return out


@dataclass(frozen=True)
class Filled:
    qrels: dict[Pair, int]  # the human qrels plus the judge's grades of the holes
    holes: list[Pair]
    run: LabelRun
    original: dict[str, float]  # measure -> mean over the run's queries, on the human qrels
    filled: dict[str, float]  # the same on the filled qrels
    files: LabelFiles


def fill_job(
    judge: Judge, run: Run, qrels: Mapping[Pair, int], texts: Texts, out: str | Path, depth: int, progress: bool = True
) -> Filled:
    """Label the holes of ``run``'s top ``depth`` with ``judge`` (reading ``texts``), write the merged qrels to
    ``out`` (and who gave each label to ``out.provenance.jsonl``), and measure the run on the human and on the filled
    qrels."""
    files = LabelFiles(Path(out))
    missing = holes(run, qrels, depth)
    labeled = label_job(judge, missing, texts, store=files.store, progress=progress)
    merged = labeled.grades | dict(qrels)  # a human label always wins
    write_qrels(files.labels, merged)
    write_jsonl(
        files.provenance,
        (
            Provenance(p, g, "human" if p in qrels else "judge", None if p in qrels else judge.fingerprint).to_json()
            for p, g in sorted(merged.items())
        ),
    )
    return Filled(merged, missing, labeled.run, _means(qrels, run), _means(merged, run), files)


def _means(qrels: Mapping[Pair, int], run: Run) -> dict[str, Any]:
    values = per_query(qrels, run, MEASURES)
    return {m: sum(v.values()) / len(v) for m, v in values.items()}
