"""Datasets: a collection's queries, docs and human qrels, from a folder, a bundled id, or an ir_datasets id.

>>> from qrelforge import load_dataset
>>> demo = load_dataset("dl20-demo")
>>> len(demo.queries), len(demo.pairs) > 1000
(54, True)
"""

from __future__ import annotations

from pathlib import Path

from .base import BUNDLED, GRADES_FILE, Dataset, bundled_path, load_pairs, split_queries
from .irds import PREFIX, load_irds

__all__ = ["BUNDLED", "GRADES_FILE", "Dataset", "bundled_path", "load_dataset", "load_pairs", "split_queries"]


def load_dataset(spec: str | Path) -> Dataset:
    """A dataset from a folder path, a bundled id (``dl20-demo``) or an ir_datasets id (``irds:<id>``)."""
    if str(spec).startswith(PREFIX):
        return load_irds(str(spec))
    if str(spec) in BUNDLED and not Path(spec).exists():
        return Dataset.from_folder(bundled_path(str(spec)))
    return Dataset.from_folder(spec)
