"""Which flags of a subcommand name its inputs and its outputs, so that one check, before any work, refuses an output
that would write over an input (``io/guard.py``).

>>> import argparse
>>> args = argparse.Namespace(labels="a.txt", qrels="a.txt", report=None)
>>> check_paths(args, Paths(inputs=("labels", "qrels"), folders=("report",)))  # the same file read twice is fine
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """The dests of a subcommand's path flags, by role (a dest may hold one value or a list)."""

    datasets: tuple[str, ...] = ()  # datasets: the files they read are inputs
    inputs: tuple[str, ...] = ()  # input files or folders (a judge spec that names no path, like 'human', is none)
    labels: tuple[str, ...] = ()  # a labeling job's LABELS: it and every file beside it are outputs
    files: tuple[str, ...] = ()  # other output files
    folders: tuple[str, ...] = ()  # output folders


def named_path(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` or a plain path (named by its stem): the form of ``rank-eval --train``."""
    if "=" in spec and not Path(spec).exists():
        name, path = spec.split("=", 1)
        return name, Path(path)
    return Path(spec).stem, Path(spec)


def check_paths(args: argparse.Namespace, paths: Paths) -> None:
    """Refuse, with one ConfigError, an output of ``args`` that is one of its inputs or an existing folder."""
    from ..io.guard import check_outputs
    from ..labeling.job import LabelFiles

    inputs = [named_path(str(v))[1] for v in _values(args, paths.inputs)]
    for spec in _values(args, paths.datasets):
        from ..datasets import load_dataset

        inputs += load_dataset(spec).files
    outputs = [Path(v) for v in _values(args, paths.files)]
    outputs += [path for v in _values(args, paths.labels) for path in LabelFiles(Path(v)).all]
    check_outputs(outputs, [Path(v) for v in _values(args, paths.folders)], inputs)


def _values(args: argparse.Namespace, dests: tuple[str, ...]) -> Iterator[str]:
    for dest in dests:
        value = getattr(args, dest, None)
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                yield str(item)
