"""Does a training set make a better ranker? Train one ranker per training set, rerank, compare per query.

Each training set trains the same kind of ranker with the same budget and seed; each ranker reranks the same fixed
candidate list per query of an evaluation dataset with human qrels. The report shows, side by side: the number of
labels (by source), nDCG@10 with a 95% bootstrap interval, MAP and MRR@10, and the paired tests against the first
training set. A ranker whose folder already holds the run of the same labels and settings is not trained again.

>>> from qrelforge import RankerConfig, rank_eval
>>> sets = {"human": human, "both": both}  # doctest: +SKIP
>>> rows = rank_eval(train, sets, evaluation, "out", RankerConfig(kind="bi-encoder"))  # doctest: +SKIP
>>> # (skipped: it trains a ranker per set; tests/test_augment.py runs it on tiny data)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..datasets import Dataset
from ..evaluate.ranking import MEASURES, Comparison, Mean, Run, mean_with_interval, paired_comparison, per_query
from ..fingerprint import settings_hash
from ..io.files import write_atomic
from ..io.trec import write_run
from ..report import html_page, html_table, markdown_table
from .augment import TrainingLabel, provenance
from .config import RankerConfig
from .rankers import rerank, train_ranker

RUN_FILE, KEY_FILE = "run.txt", "run-key.json"


@dataclass(frozen=True)
class RankingRow:
    name: str
    provenance: dict[str, int]  # training labels by source
    means: dict[str, Mean]  # measure -> mean over queries with its interval
    versus_first: Comparison | None  # nDCG@10 (the first measure) against the first training set
    per_query: dict[str, dict[str, float]]  # measure -> query id -> value
    losses: tuple[float, float] | None  # the ranker's training loss: mean of its first and of its last ten


def judged_candidates(dataset: Dataset) -> dict[str, list[str]]:
    """Each query's judged docs: a fixed candidate list whose every doc has a human grade."""
    out: dict[str, list[str]] = {}
    for pair in dataset.pairs:
        out.setdefault(pair.query_id, []).append(pair.doc_id)
    return out


def rank_eval(
    train_dataset: Dataset,
    training_sets: Mapping[str, Sequence[TrainingLabel]],
    eval_dataset: Dataset,
    out: str | Path,
    config: RankerConfig,
    candidates: Mapping[str, Sequence[str]] | None = None,
    measures: Sequence[str] = MEASURES,
    progress: bool = True,
) -> list[RankingRow]:
    """Train a ranker per training set, rerank ``candidates`` (default: the judged docs) of ``eval_dataset``, and
    measure each run against its human qrels; rows are in the order of ``training_sets``."""
    out = Path(out)
    candidates = candidates or judged_candidates(eval_dataset)
    rows: list[RankingRow] = []
    for name, labels in training_sets.items():
        folder = out / name
        run, losses = _run(train_dataset, labels, eval_dataset, candidates, folder, config, progress)
        values = per_query(eval_dataset.qrels, run, measures)
        first = rows[0].per_query[measures[0]] if rows else None
        rows.append(
            RankingRow(
                name,
                provenance(labels),
                {m: mean_with_interval(v, config.seed) for m, v in values.items()},
                paired_comparison(first, values[measures[0]], config.seed) if first else None,
                values,
                losses,
            )
        )
    return rows


def _run(
    train_dataset: Dataset,
    labels: Sequence[TrainingLabel],
    eval_dataset: Dataset,
    candidates: Mapping[str, Sequence[str]],
    folder: Path,
    config: RankerConfig,
    progress: bool,
) -> tuple[Run, tuple[float, float] | None]:
    """The ranker's run: read back when the folder holds one of the same labels and settings, else trained."""
    key = settings_hash(
        {
            "labels": [asdict(t) for t in labels],
            "config": asdict(config),
            "train": train_dataset.name,
            "eval": eval_dataset.name,
            "candidates": {q: list(d) for q, d in candidates.items()},
        }
    )
    record = folder / KEY_FILE
    saved = json.loads(record.read_text()) if record.is_file() else {}
    if saved.get("key") == key:
        return {q: dict(d) for q, d in saved["run"].items()}, tuple(saved["losses"]) if saved["losses"] else None
    ranker = train_ranker(train_dataset, labels, folder / "model", config, progress)
    run = rerank(ranker, eval_dataset, candidates, config)
    write_run(folder / RUN_FILE, run, folder.name)
    losses = (float(np.mean(ranker.losses[:10])), float(np.mean(ranker.losses[-10:])))
    write_atomic(record, json.dumps({"key": key, "run": run, "losses": losses}))
    return run, losses


def report_table(rows: Sequence[RankingRow], measures: Sequence[str] = MEASURES) -> tuple[list[str], list[list[str]]]:
    """Header and cells: labels by source, each measure's mean [95% CI], and the paired tests against row one."""
    sources = sorted({s for row in rows for s in row.provenance})
    first = rows[0].name if rows else ""
    header = [
        "training set",
        "labels",
        *sources,
        *(f"{m} [95% CI]" for m in measures),
        f"Δ {measures[0]} vs {first}",
        "p (randomization)",
        "p (t-test)",
    ]
    cells = []
    for row in rows:
        c = row.versus_first
        cells.append(
            [
                row.name,
                str(sum(row.provenance.values())),
                *(str(row.provenance.get(s, 0)) for s in sources),
                *(f"{row.means[m].value:.4f} [{row.means[m].low:.4f}, {row.means[m].high:.4f}]" for m in measures),
                f"{c.difference:+.4f}" if c else "—",
                f"{c.p_randomization:.4f}" if c else "—",
                f"{c.p_ttest:.4f}" if c else "—",
            ]
        )
    return header, cells


def write_ranking_report(
    rows: Sequence[RankingRow],
    out_dir: str | Path,
    title: str,
    notes: Sequence[str] = (),
    measures: Sequence[str] = MEASURES,
) -> Path:
    """``report.md``, ``report.html`` and ``per-query.tsv`` (every measure of every query for every set)."""
    out_dir = Path(out_dir)
    header, cells = report_table(rows, measures)
    markdown = [f"# {title}", "", *(f"- {n}" for n in notes), "", *markdown_table(header, cells)]
    write_atomic(out_dir / "report.md", "\n".join(markdown) + "\n")
    write_atomic(out_dir / "report.html", html_page(title, notes, html_table(header, cells)))
    lines = ["training_set\tmeasure\tquery_id\tvalue"]
    lines += [
        f"{row.name}\t{m}\t{q}\t{v:.6f}" for row in rows for m in measures for q, v in sorted(row.per_query[m].items())
    ]
    write_atomic(out_dir / "per-query.tsv", "\n".join(lines) + "\n")
    return out_dir / "report.html"
