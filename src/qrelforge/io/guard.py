"""No command writes over one of its inputs: every output path is checked against every input before any work.

Inputs are files (a dataset's ``qrels.txt``, a label file, a teacher YAML) or folders that are read whole (a student
or a base model): nothing may be written inside those. Outputs are files (``LABELS`` and the files beside it), which
must not be an input or an existing folder, and folders (a model folder being written, a report folder), which must
not be, hold or sit inside an input. Paths are compared after resolving links, and hard links by their inode.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "qrels.txt").write_text("q1 0 d1 1\\n")
10
>>> check_outputs(files=[folder / "labels.txt"], inputs=[folder / "qrels.txt"])
>>> check_outputs(files=[folder / "qrels.txt"], inputs=[folder / "qrels.txt"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
qrelforge.errors.ConfigError: the output ... is also an input: it would be overwritten; name another output path
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import ConfigError


def check_outputs(
    files: Iterable[str | Path] = (), folders: Iterable[str | Path] = (), inputs: Iterable[str | Path] = ()
) -> None:
    """Raise a ConfigError if an output would write over an input (or an output file is an existing folder)."""
    sources = [Path(p) for p in inputs if Path(p).exists()]
    for out in map(Path, files):
        if out.is_dir():
            raise ConfigError(f"the output {out} is an existing folder; name a file (e.g. {out / 'labels.txt'})")
        for source in sources:
            if _same(out, source) or (source.is_dir() and _inside(out, source)):
                what = "is also an input" if _same(out, source) else f"is inside the input folder {source}"
                raise ConfigError(f"the output {out} {what}: it would be overwritten; name another output path")
    for out in map(Path, folders):
        if out.exists() and not out.is_dir():
            raise ConfigError(f"the output folder {out} is an existing file; name a folder")
        for source in sources:
            if _same(out, source) or _inside(source, out) or (source.is_dir() and _inside(out, source)):
                raise ConfigError(
                    f"the output folder {out} would overlap the input {source}: writing it could "
                    f"overwrite that input; name another output folder"
                )


def _same(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    """``path`` is strictly inside ``folder``."""
    return folder.resolve() in path.resolve().parents
