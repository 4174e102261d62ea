"""Pair sets and labeling shards as Parquet (pyarrow): the format of large pair sets and of the Ray backend's output."""

from __future__ import annotations

from collections.abc import Container, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputFormatError
from ..records import Pair
from .files import write_atomic
from .trec import check_ids

PAIR_COLUMNS = ("query_id", "doc_id")


def read_parquet_pairs(
    path: str | Path, queries: Container[str] | None = None, docs: Container[str] | None = None
) -> list[Pair]:
    """Unique pairs, in file order, from a Parquet file with string columns ``query_id`` and ``doc_id``.

    Other columns are ignored. Ids are checked as in ``read_pairs``; an error names the row (1-based) as its line.
    """
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputFormatError(path, None, "a Parquet file", str(exc)) from None
    missing = [c for c in PAIR_COLUMNS if c not in table.column_names]
    if missing:
        raise InputFormatError(path, None, f"columns {list(PAIR_COLUMNS)}", f"columns {table.column_names}")
    pairs: dict[Pair, None] = {}
    for number, (query_id, doc_id) in enumerate(zip(*(table[c].to_pylist() for c in PAIR_COLUMNS)), start=1):
        if not isinstance(query_id, str) or not isinstance(doc_id, str):
            raise InputFormatError(path, number, "string ids in query_id and doc_id", f"{query_id!r}, {doc_id!r}")
        pair = Pair(query_id, doc_id)
        check_ids(path, number, pair, queries, docs)
        pairs[pair] = None
    return list(pairs)


def write_parquet_atomic(path: str | Path, table: Any) -> None:
    """Write a pyarrow table to ``path`` so that readers see no partial file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_atomic(path, sink.getvalue().to_pybytes())


def read_parquet_rows(path: str | Path, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of a Parquet file as dicts; each of ``columns`` must be there (others are kept too)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise InputFormatError(path, None, "a Parquet file", str(exc)) from None
    if missing := [c for c in columns if c not in table.column_names]:
        raise InputFormatError(path, None, f"columns {list(columns)}", f"columns {table.column_names}; no {missing}")
    return table.to_pylist()


def write_parquet_rows(path: str | Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write dict rows as a Parquet file, atomically."""
    import pyarrow as pa

    write_parquet_atomic(path, pa.Table.from_pylist(list(rows)))


def read_parquet_texts(path: str | Path, id_column: str) -> dict[str, str]:
    """Texts by id from a Parquet file with string columns ``id_column`` and ``text`` (a dataset's docs.parquet or
    queries.parquet); a repeated id is an error naming its row."""
    texts: dict[str, str] = {}
    for number, row in enumerate(read_parquet_rows(path, (id_column, "text")), start=1):
        key, text = row[id_column], row["text"]
        if not isinstance(key, str) or not isinstance(text, str):
            raise InputFormatError(path, number, f"a string {id_column} and text", f"{key!r}, {str(text)[:40]!r}")
        if key in texts:
            raise InputFormatError(path, number, f"each {id_column} once", f"{key} again")
        texts[key] = text
    return texts
