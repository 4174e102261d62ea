"""Every reader, fuzzed (hypothesis): whatever bytes a file holds, the reader returns a correct read or raises one
typed qrelforge error that names the file (and the line, for a line format) — never another exception, a hang,
or a silently dropped row."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrelforge import InputFormatError, Pair, QrelforgeError, load_teacher_config, read_pairs, read_qrels
from qrelforge.io.parquet import read_parquet_pairs
from qrelforge.io.tables import read_docs_jsonl, read_queries_tsv
from qrelforge.judges.replay import read_label_jsonl
from qrelforge.pipeline.config import load_pipeline_config
from qrelforge.students.registry import read_card

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
IDS = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00", exclude_categories=("Cs", "Zs", "Cc", "Zl", "Zp")),
    min_size=1,
    max_size=8,
)
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00\n\r", exclude_categories=("Cs",)), max_size=30)
NOISE = st.sampled_from(
    [
        b"",
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        b"\x00",
        b"\r",
        b"\t",
        b"  ",
        b"\n\n",
        b"{",
        b"}",
        b"\xe2\x82",
        b"-1",
        b"7",
        b"x y",
        b"q 0 d",
        b"q 0 d 2 extra",
        b'{"qid": 1}',
        b"\xc3\x28",
    ]
)


def fuzz_bytes() -> st.SearchStrategy[bytes]:
    """Bytes that are nearly a file of lines: pieces of lines, broken UTF-8, NUL bytes, BOMs and CRLFs mixed in."""
    piece = st.one_of(NOISE, st.binary(max_size=12), IDS.map(lambda s: s.encode()))
    return st.lists(piece, max_size=30).map(lambda parts: b" ".join(parts))


def reads_or_names_the_file(read: Callable[[Path], object], data: bytes, name: str) -> object:
    """Call the reader on a file holding ``data``: a result, or a qrelforge error that names the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            return read(path)
        except QrelforgeError as exc:
            assert str(path) in str(exc) or path.name in str(exc), exc
            if isinstance(exc, InputFormatError) and exc.line is not None:
                assert 1 <= exc.line <= data.count(b"\n") + 1
            return exc


READERS = {
    "qrels.txt": read_qrels,
    "run.txt": read_pairs,
    "queries.tsv": read_queries_tsv,
    "docs.jsonl": read_docs_jsonl,
    "labels.jsonl": read_label_jsonl,
    "teacher.yaml": load_teacher_config,
    "pipeline.yaml": load_pipeline_config,
}


@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(data=fuzz_bytes())
def test_any_bytes_read_or_fail_with_the_file_named(name: str, data: bytes) -> None:
    reads_or_names_the_file(READERS[name], data, name)


@FUZZ
@given(rows=st.lists(st.tuples(IDS, IDS, st.integers(0, 3)), max_size=40), bom=st.booleans(), crlf=st.booleans())
def test_well_formed_qrels_lose_no_row(rows: list[tuple[str, str, int]], bom: bool, crlf: bool) -> None:
    """BOM or not, CRLF or not: every distinct pair comes back with its grade; a conflicting grade is an error
    that names its line."""
    end = "\r\n" if crlf else "\n"
    data = ("\ufeff" if bom else "") + "".join(f"{q} 0 {d} {g}{end}" for q, d, g in rows)
    result = reads_or_names_the_file(lambda p: read_qrels(p, scale=(0, 1, 2, 3)), data.encode(), "qrels.txt")
    first: dict[Pair, int] = {}
    conflict = None
    for number, (q, d, g) in enumerate(rows, start=1):
        if first.setdefault(Pair(q, d), g) != g and conflict is None:
            conflict = number
    if conflict is None:
        assert result == first
    else:
        assert isinstance(result, InputFormatError) and result.line == conflict and "one grade per pair" in str(result)


@FUZZ
@given(rows=st.lists(st.tuples(IDS, TEXT.filter(str.strip)), max_size=20), bom=st.booleans())
def test_well_formed_queries_lose_no_row(rows: list[tuple[str, str]], bom: bool) -> None:
    data = ("\ufeff" if bom else "") + "".join(f"{q}\t{t}\n" for q, t in rows)
    result = reads_or_names_the_file(read_queries_tsv, data.encode(), "queries.tsv")
    seen: set[str] = set()
    for number, (q, t) in enumerate(rows, start=1):  # the first bad line is named: a third column or an id again
        if "\t" in t.rstrip():
            assert isinstance(result, InputFormatError) and result.line == number and "columns" in str(result)
            return
        if q in seen:
            assert isinstance(result, InputFormatError) and "each query id once" in str(result)
            return
        seen.add(q)
    assert result == {q: t.strip() for q, t in rows}  # the first id carries no BOM


@FUZZ
@given(rows=st.lists(st.tuples(IDS, TEXT), max_size=20))
def test_well_formed_docs_lose_no_row(rows: list[tuple[str, str]]) -> None:
    data = "".join(json.dumps({"doc_id": d, "text": t}) + "\n" for d, t in rows).encode()
    result = reads_or_names_the_file(read_docs_jsonl, data, "docs.jsonl")
    texts: dict[str, str] = {}
    if all(texts.setdefault(d, t) == t for d, t in rows):
        assert result == texts
    else:
        assert isinstance(result, InputFormatError) and "one text per doc_id" in str(result)


@FUZZ
@given(
    values=st.lists(
        st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=5), st.booleans()),
        min_size=2,
        max_size=2,
    ),
    columns=st.sampled_from([("query_id", "doc_id"), ("qid", "doc_id")]),
)
def test_parquet_pairs_read_or_name_the_file(values: list[object], columns: tuple[str, str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.parquet"
        pq.write_table(pa.table({columns[0]: pa.array([values[0]]), columns[1]: pa.array([values[1]])}), path)
        try:
            pairs = read_parquet_pairs(path)
        except QrelforgeError as exc:
            assert str(path) in str(exc)
        else:
            assert columns == ("query_id", "doc_id") and pairs == [Pair(values[0], values[1])]
    reads_or_names_the_file(read_parquet_pairs, b"PAR1 not really", "pairs.parquet")


@FUZZ
@given(card=fuzz_bytes())
def test_a_model_folder_with_any_card_reads_or_names_it(card: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "qrelforge.json").write_bytes(card)
        try:
            read_card(folder)
        except QrelforgeError as exc:
            assert "qrelforge.json" in str(exc)


def test_an_enormous_passage_is_read_whole(tmp_path: Path) -> None:
    """A 10 MB passage is data, not an attack on the reader: read whole, and cut only where a judge reads it."""
    text = "word " * 2_000_000
    (tmp_path / "docs.jsonl").write_text(json.dumps({"doc_id": "big", "text": text}) + "\n")
    assert len(read_docs_jsonl(tmp_path / "docs.jsonl")["big"]) == len(text)
