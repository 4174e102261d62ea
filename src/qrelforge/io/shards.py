"""A pair set too large for memory, and the shards its labels go to (Parquet, pyarrow).

A **pair set** is a Parquet file or a folder of them (local, or any URI pyarrow reads: ``s3://...``) with string
columns ``query_id`` and ``doc_id``, and optionally the texts, ``query`` and ``text``. It is cut into **units** from
the files' metadata alone: a unit is a slice of at most ``unit_rows`` rows of one row group of one file, named by
where it sits (``shard-FFFFF-GGGGG-SSSSSSSSSS.parquet``), so the same pair set always gives the same units.

A unit's judgments are written as that one shard, atomically: a shard exists whole or not at all, and a rerun labels
exactly the units without one. A unit with pairs whose teacher request failed (``api_error``: never a grade) is
written as its **retry shard** instead (``shard-....retry.parquet``): readers see its rows as they see a shard's,
and a rerun asks only its failed pairs again, then replaces it by the unit's shard. The shard folder's
``manifest.json`` records the judge and the pair set's files (size and row groups): labels of another judge, or of a
changed pair set, are refused instead of mixed in.

>>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
>>> folder = tempfile.mkdtemp()
>>> pq.write_table(pa.table({"query_id": ["q1"] * 5, "doc_id": list("abcde")}), folder + "/pairs.parquet")
>>> manifest = Manifest("demo:judge:0", (0, 1, 2, 3), 2, pair_files(folder + "/pairs.parquet"))
>>> [(u.start, u.rows) for u in manifest.units()]
[(0, 2), (2, 2), (4, 1)]
>>> UnitReader().read(manifest.units()[1])["doc_id"].to_pylist()
['c', 'd']
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Container, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputFormatError
from ..records import Judgment, Pair, Usage
from .files import read_json_object, write_atomic
from .parquet import write_parquet_atomic
from .store import RETRIED, judgment_of, row_of

MANIFEST = "manifest.json"
SHARD_GLOB = "shard-*.parquet"  # shards and retry shards
RETRY_SUFFIX = ".retry.parquet"
ID_COLUMNS = ("query_id", "doc_id")
TEXT_COLUMNS = ("query", "text")


@dataclass(frozen=True)
class PairFile:
    """One Parquet file of a pair set, as its metadata describes it."""

    location: str  # an absolute local path or a URI
    size: int
    row_groups: tuple[int, ...]  # rows in each
    texts: bool  # it has the query and text columns


@dataclass(frozen=True)
class Unit:
    """A slice of one row group: what one worker reads, judges and writes as one shard (and what is retried)."""

    file: int
    location: str
    row_group: int
    start: int  # the first row within the row group
    rows: int
    first_line: int  # the slice's first row within the file, 1-based (for error messages)

    @property
    def shard(self) -> str:
        return f"shard-{self.file:05d}-{self.row_group:05d}-{self.start:010d}.parquet"

    @property
    def retry_shard(self) -> str:
        return self.shard.removesuffix(".parquet") + RETRY_SUFFIX


@dataclass(frozen=True)
class Manifest:
    """What a shard folder holds the labels of: one judge, one pair set, cut into units of ``unit_rows``."""

    judge: str
    scale: tuple[int, ...]
    unit_rows: int
    files: tuple[PairFile, ...]

    def units(self) -> list[Unit]:
        units = []
        for index, file in enumerate(self.files):
            line = 1
            for group, rows in enumerate(file.row_groups):
                for start in range(0, rows, self.unit_rows):
                    size = min(self.unit_rows, rows - start)
                    units.append(Unit(index, file.location, group, start, size, line + start))
                line += rows
        return units

    @property
    def texts(self) -> bool:
        return all(f.texts for f in self.files)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, path: Path) -> Manifest:
        obj = read_json_object(path, "a shard folder's manifest")
        try:
            files = tuple(PairFile(f["location"], f["size"], tuple(f["row_groups"]), f["texts"]) for f in obj["files"])
            return cls(obj["judge"], tuple(obj["scale"]), obj["unit_rows"], files)
        except (KeyError, TypeError) as exc:
            raise InputFormatError(path, None, "a shard folder's manifest", f"{type(exc).__name__}: {exc}") from None


def pair_files(source: str | Path) -> tuple[PairFile, ...]:
    """The Parquet files of a pair set (a file, or a folder's ``*.parquet`` in name order), read from metadata only."""
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    fs, root = _filesystem(source)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.Directory:
        selector = pafs.FileSelector(root, recursive=True)
        paths = sorted(i.path for i in fs.get_file_info(selector) if i.is_file and i.path.endswith(".parquet"))
    elif info.type == pafs.FileType.File:
        paths = [root]
    else:
        raise ConfigError(f"{source}: no such Parquet file or folder of Parquet files")
    if not paths:
        raise ConfigError(f"{source}: a folder without .parquet files")
    files = []
    for path in paths:
        location = _location(source, path)
        try:
            with fs.open_input_file(path) as handle:
                parquet = pq.ParquetFile(handle)
                schema, metadata = parquet.schema_arrow, parquet.metadata
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InputFormatError(location, None, "a Parquet file", str(exc)[:200]) from None
        for column in ID_COLUMNS:
            kind = schema.field(column).type if column in schema.names else None
            if kind is None or not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
                raise InputFormatError(
                    location, None, "string columns query_id and doc_id (and optionally query, text)", str(schema)[:200]
                )
        rows = tuple(metadata.row_group(g).num_rows for g in range(metadata.num_row_groups))
        files.append(
            PairFile(location, fs.get_file_info(path).size, rows, all(c in schema.names for c in TEXT_COLUMNS))
        )
    return tuple(files)


def open_manifest(folder: Path, manifest: Manifest) -> Manifest:
    """The manifest of the shard folder: written if the folder has none; otherwise the recorded one, which must be of
    the same judge and pair set (its unit size is kept, so finished shards stay finished)."""
    path = folder / MANIFEST
    if not path.exists():
        write_atomic(path, manifest.to_json())
        return manifest
    recorded = Manifest.from_json(path)
    if recorded.judge != manifest.judge:
        raise ConfigError(
            f"{folder} holds the labels of {recorded.judge}, not of {manifest.judge}: choose another --out "
            f"(labels of two judges are never mixed)"
        )
    if recorded.files != manifest.files:
        raise ConfigError(
            f"{folder} holds labels of another pair set (or of these files before they changed): choose another "
            f"--out, or label the files listed in {path}"
        )
    return recorded


def is_shard_folder(path: Path) -> bool:
    """Whether ``path`` is a labeling run's shard folder (it holds a manifest)."""
    return (path / MANIFEST).is_file()


def finished(folder: Path) -> set[str]:
    """The names of the units whose shard is written (a retry shard is not finished)."""
    return {path.name for path in folder.glob(SHARD_GLOB) if not path.name.endswith(RETRY_SUFFIX)}


def remove_leftover_retries(folder: Path) -> None:
    """Remove the retry shards whose unit's shard is written (left by a run killed between writing the one and
    removing the other)."""
    done = finished(folder)
    for path in folder.glob("*" + RETRY_SUFFIX):
        if _unit_shard(path.name) in done:
            path.unlink(missing_ok=True)


def _unit_shard(name: str) -> str:
    """The name of the unit's shard, given its shard's or its retry shard's."""
    return name.removesuffix(RETRY_SUFFIX) + ".parquet" if name.endswith(RETRY_SUFFIX) else name


class UnitReader:
    """Reads units, keeping the last row group read (a worker usually gets the units of one row group in turn)."""

    def __init__(self) -> None:
        self._key: tuple[str, int] | None = None
        self._group: Any = None

    def read(self, unit: Unit) -> Any:
        """The unit's rows as a pyarrow table; an id that is missing is an error naming the file and the row."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        if self._key != (unit.location, unit.row_group):
            fs, path = _filesystem(unit.location)
            with fs.open_input_file(path) as handle:
                self._group = pq.ParquetFile(handle).read_row_group(unit.row_group)
            self._key = (unit.location, unit.row_group)
        table = self._group.slice(unit.start, unit.rows)
        for column in ID_COLUMNS:
            if table[column].null_count:
                row = pc.index(pc.is_null(table[column]), True).as_py()
                raise InputFormatError(unit.location, unit.first_line + row, f"a {column}", "no value")
        return table


def write_shard(folder: Path, unit: Unit, judgments: Sequence[Judgment]) -> None:
    """A unit's judgments as its shard (every field of the store's rows; ``usage`` as JSON text), or as its retry
    shard while some of its pairs have no answer (``api_error``)."""
    import pyarrow as pa

    rows = [row_of(j) | {"usage": json.dumps(row_of(j)["usage"])} for j in judgments]
    unanswered = any(j.status == RETRIED for j in judgments)
    write_parquet_atomic(
        folder / (unit.retry_shard if unanswered else unit.shard), pa.Table.from_pylist(rows, schema=shard_schema())
    )
    if not unanswered:
        (folder / unit.retry_shard).unlink(missing_ok=True)


def retried_judgments(folder: Path, unit: Unit, pairs: Sequence[Pair]) -> list[Judgment] | None:
    """The judgments of a unit's retry shard, one per row of the unit's ``pairs`` in their order; None when it has
    none, or when its rows are not these pairs (then the unit is judged whole again)."""
    import pyarrow.parquet as pq

    path = folder / unit.retry_shard
    if not path.exists():
        return None
    earlier = list(_rows(pq.read_table(path, schema=shard_schema())))
    return earlier if [j.pair for j in earlier] == list(pairs) else None


def shard_counts(path: Path) -> tuple[dict[str, int], Usage]:
    """A shard's judgments by status, and what they billed (read from those two columns only)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, schema=shard_schema(), columns=["status", "usage"])
    return dict(Counter(table["status"].to_pylist())), _usage(table)


def shards_usage(folder: Path) -> Usage:
    """What the judgments kept in a shard folder billed (requests whose answers were replaced are not counted)."""
    return sum((_usage(table) for table in shard_tables(folder, ["usage"])), Usage())


def _usage(table: Any) -> Usage:
    return sum((Usage(**found) for text in table["usage"].to_pylist() if (found := json.loads(text))), Usage())


def shard_schema() -> Any:
    """One schema for every shard, so that shards concatenate whatever their values."""
    import pyarrow as pa

    return pa.schema(
        [
            ("judge", pa.string()),
            ("query_id", pa.string()),
            ("doc_id", pa.string()),
            ("grade", pa.int64()),
            ("status", pa.string()),
            ("probs", pa.list_(pa.float64())),
            ("raw", pa.string()),
            ("usage", pa.string()),
            ("truncated", pa.bool_()),
            ("flagged", pa.bool_()),
        ]
    )


def shard_tables(folder: Path, columns: list[str] | None = None) -> Iterator[Any]:
    """Each shard (or a unit's retry shard) as a pyarrow table, in the pair set's order (one in memory at a time);
    the folder is listed once, so a unit finished meanwhile is read once, from its retry shard or its shard."""
    import pyarrow.parquet as pq

    paths = sorted(folder.glob(SHARD_GLOB))
    names = {path.name for path in paths}
    for path in paths:
        shard = folder / _unit_shard(path.name)
        if shard != path and shard.name in names:
            continue  # left by a run killed between writing a unit's shard and removing its retry shard
        try:
            table = pq.read_table(path, schema=shard_schema(), columns=columns)
        except FileNotFoundError:  # a retry shard replaced by its unit's shard while this read
            table = pq.read_table(shard, schema=shard_schema(), columns=columns)
        yield table


def shard_judgments(folder: Path) -> Iterator[Judgment]:
    """Every judgment of a shard folder, streamed in the pair set's order."""
    for table in shard_tables(folder):
        yield from _rows(table)


def _rows(table: Any) -> Iterator[Judgment]:
    for row in table.to_pylist():
        yield judgment_of(row | {"usage": json.loads(row["usage"])})


def shard_grades(folder: Path, keep: Container[Pair]) -> dict[Pair, int]:
    """The grades of the pairs in ``keep`` (e.g. those with a human grade): memory bounded by ``keep``, not the
    shards."""
    return {j.pair: j.grade for j in shard_judgments(folder) if j.ok and j.grade is not None and j.pair in keep}


def _filesystem(location: str | Path) -> tuple[Any, str]:
    import pyarrow.fs as pafs

    if "://" in str(location):
        try:
            return pafs.FileSystem.from_uri(str(location))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{location}: {exc}") from None
    return pafs.LocalFileSystem(), os.path.abspath(location)


def _location(source: str | Path, path: str) -> str:
    """How to find ``path`` (listed by the file system of ``source``) again from any worker."""
    if "://" in str(source):
        return str(source).split("://", 1)[0] + "://" + path
    return path
