"""Bad input gives one typed error naming the file, the line, what was expected and what was found."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_dataset
from qrelforge import (
    Batch,
    InputFormatError,
    Judgment,
    Pair,
    load_dataset,
    read_pairs,
    read_qrels,
    replay_judge,
    write_qrels,
)
from qrelforge.io.files import write_atomic
from qrelforge.judges.replay import read_label_jsonl

QUERIES, DOCS = {"q1": "apple pie", "q2": "pear tart"}, {"d1": "how to bake apple pie", "d2": "tarts"}


def dataset_with(tmp_path: Path, qrels: list[str]) -> Path:
    return write_dataset(tmp_path / "ds", QUERIES, DOCS, qrels)


def error_of(call) -> InputFormatError:  # noqa: ANN001
    with pytest.raises(InputFormatError) as info:
        call()
    return info.value


def test_good_folder_loads_lazily(tmp_path: Path) -> None:
    folder = dataset_with(tmp_path, ["q1 0 d1 3", "q2 0 d2 0", "q1 0 d1 3"])
    dataset = load_dataset(folder)
    assert dataset._queries is None  # nothing is read until it is used
    assert dataset.qrels == {Pair("q1", "d1"): 3, Pair("q2", "d2"): 0}
    assert dataset.pairs == [Pair("q1", "d1"), Pair("q2", "d2")]
    assert dataset.subset(["q2"]).pairs == [Pair("q2", "d2")]


def test_missing_file_names_it(tmp_path: Path) -> None:
    folder = dataset_with(tmp_path, ["q1 0 d1 3"])
    (folder / "docs.jsonl").unlink()
    err = error_of(lambda: load_dataset(folder).docs)
    assert err.path.endswith("docs.jsonl") and err.line is None and "no such file" in str(err)


@pytest.mark.parametrize(
    ("line", "expected", "got"),
    [
        ("q1 0 d1", "4 whitespace-separated fields", "3 fields"),
        ("q1 0 d1 high", "an integer grade", "'high'"),
        ("q9 0 d1 1", "query id listed in the dataset", "'q9'"),
        ("q1 0 d9 1", "doc id listed in the dataset", "'d9'"),
        ("q1 0 d1 2", "one grade per pair (line 1 gave q1/d1 grade 3)", "grade 2"),
    ],
)
def test_bad_qrels_line(tmp_path: Path, line: str, expected: str, got: str) -> None:
    folder = dataset_with(tmp_path, ["q1 0 d1 3", "", line])
    err = error_of(lambda: load_dataset(folder).qrels)
    assert err.path == str(folder / "qrels.txt") and err.line == 3
    assert expected in err.expected and got in err.got
    assert "qrels.txt:3: expected" in str(err)


def test_bad_docs_and_queries(tmp_path: Path) -> None:
    folder = dataset_with(tmp_path, ["q1 0 d1 3"])
    (folder / "docs.jsonl").write_text('{"doc_id": "d1", "text": "x"}\n{"doc_id": "d2", "text": \n')
    err = error_of(lambda: load_dataset(folder).docs)
    assert err.line == 2 and "invalid JSON" in err.got
    (folder / "docs.jsonl").write_text('{"doc_id": "d1", "body": "x"}\n')
    err = error_of(lambda: load_dataset(folder).docs)
    assert '"text"' in err.expected and "no 'text' among keys ['body', 'doc_id']" in err.got
    (folder / "queries.tsv").write_text("q1\tapple pie\nq2 pear tart\n")
    err = error_of(lambda: load_dataset(folder).queries)
    assert err.line == 2 and "query_id<TAB>text" in err.expected


def test_pairs_from_qrels_and_run_files(tmp_path: Path) -> None:
    run = tmp_path / "run.txt"
    run.write_text("q1 Q0 d2 1 9.5 bm25\nq1 Q0 d1 2 8.0 bm25\nq1 Q0 d2 1 9.5 bm25\n")
    assert read_pairs(run) == [Pair("q1", "d2"), Pair("q1", "d1")]
    run.write_text("q1 Q0 d2 1 9.5\n")
    assert error_of(lambda: read_pairs(run)).line == 1
    run.write_text("q1 Q0 d2 1 9.5 bm25\nq1 Q0 d7 2 8.0 bm25\n")
    err = error_of(lambda: read_pairs(run, QUERIES, DOCS))
    assert err.line == 2 and "doc id listed in the dataset" in err.expected and "'d7'" in err.got


def test_label_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "umbrela.jsonl"
    path.write_text(
        '{"qid": "q1", "docid": "d1", "judgment": 2, "prediction": "##final score: 2"}\n'
        '{"query_id": "q2", "doc_id": "d2", "score": 0}\n'
    )
    assert read_label_jsonl(path) == ({Pair("q1", "d1"): 2, Pair("q2", "d2"): 0}, {})
    path.write_text('{"qid": "q1", "docid": "d1", "judgment": "two"}\n')
    err = error_of(lambda: read_label_jsonl(path))
    assert err.line == 1 and "integer grade" in err.expected


def test_label_jsonl_with_grade_probabilities(tmp_path: Path) -> None:
    path = tmp_path / "soft.jsonl"
    path.write_text(
        '{"qid": "q1", "docid": "d1", "judgment": 2, "probs": {"1": 0.25, "2": 0.75}}\n'
        '{"qid": "q2", "docid": "d2", "judgment": 0}\n'
        '{"qid": "q3", "docid": "d3", "judgment": 3, "probs": {"0": 0.1, "3": 0.9}}\n'
    )
    judge = replay_judge(path)
    assert judge.scale == (0, 1, 2, 3)
    got = {j.query_id: j.probs for j in judge.judge(Batch([Pair("q1", "d1"), Pair("q2", "d2"), Pair("q3", "d3")]))}
    assert got == {"q1": (0.0, 0.25, 0.75, 0.0), "q2": None, "q3": (0.1, 0.0, 0.0, 0.9)}
    for probs, why in (("[0.5, 0.5]", "an object"), ('{"a": 1.0}', "an object"), ('{"0": 0.5, "1": 0.2}', "summing")):
        path.write_text(
            '{"qid": "q1", "docid": "d1", "judgment": 1}\n'
            f'{{"qid": "q1", "docid": "d2", "judgment": 1, "probs": {probs}}}\n'
        )
        err = error_of(lambda: read_label_jsonl(path))
        assert err.line == 2 and why in err.expected and err.path == str(path)


def test_writes_are_atomic(tmp_path: Path) -> None:
    target = tmp_path / "labels.txt"
    write_qrels(target, {Pair("q2", "d1"): 1, Pair("q1", "d2"): 3})
    assert target.read_text() == "q1 0 d2 3\nq2 0 d1 1\n"
    assert read_qrels(target) == {Pair("q1", "d2"): 3, Pair("q2", "d1"): 1}
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "q1 0 d1 2\n" + "\ud800")  # fails halfway through the write
    assert target.read_text() == "q1 0 d2 3\nq2 0 d1 1\n"  # the old file is whole
    assert [p.name for p in tmp_path.iterdir()] == ["labels.txt"]  # no temp file left behind


def test_folder_is_replaced_whole(tmp_path: Path) -> None:
    from qrelforge.io.files import write_folder_atomic

    out = tmp_path / "model"
    write_folder_atomic(out, lambda folder: (folder / "a.txt").write_text("old"))

    def crash(folder: Path) -> None:
        (folder / "a.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_folder_atomic(out, crash)
    assert (out / "a.txt").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["model"]
    write_folder_atomic(out, lambda folder: (folder / "b.txt").write_text("new"))
    assert [p.name for p in out.iterdir()] == ["b.txt"] and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_labels_and_judgments_export_and_import_in_every_format(tmp_path: Path) -> None:
    """TREC, label JSONL (UMBRELA's keys) and Parquet: a round trip keeps every grade and probability; a store
    exports every field of every judgment to Parquet."""
    import pyarrow.parquet as pq

    from qrelforge import Judgment, JudgmentStore
    from qrelforge.cli import main

    source = tmp_path / "labels.jsonl"
    source.write_text(
        '{"qid": "q1", "docid": "d1", "judgment": 2, "probs": {"0": 0.1, "1": 0.2, "2": 0.6, "3": 0.1}}\n'
        '{"qid": "q1", "docid": "d2", "judgment": 0, "probs": {"0": 0.7, "1": 0.1, "2": 0.1, "3": 0.1}}\n'
    )
    original = replay_judge(source)
    for target in ("a.parquet", "b.jsonl", "c.txt"):
        assert main(["export", str(source), "--to", str(tmp_path / target)]) == 0
        back = replay_judge(tmp_path / target)
        assert back.grades == original.grades
        if not target.endswith(".txt"):
            assert back.probs == original.probs and back.scale == (0, 1, 2, 3)
    store = JudgmentStore(tmp_path / "x.txt.judgments.jsonl")
    store.append(
        [
            Judgment("q1", "d1", 1, "judge-a", probs=(0.2, 0.8), truncated=True),
            Judgment("q1", "d2", None, "judge-a", status="parse_error", raw="I think so"),
        ]
    )
    assert main(["export", str(store.path), "--to", str(tmp_path / "store.parquet")]) == 0
    rows = pq.read_table(tmp_path / "store.parquet").to_pylist()
    assert [(r["doc_id"], r["status"], r["raw"], r.get("truncated")) for r in rows] == [
        ("d1", "ok", None, True),
        ("d2", "parse_error", "I think so", None),
    ]
    assert main(["export", str(store.path), "--to", str(tmp_path / "store.jsonl")]) == 2


def test_outputs_keep_the_umask_permissions(tmp_path: Path) -> None:
    """Reports and models can be shared: files as open() makes them (0644 under umask 022), folders as mkdir does."""
    import os

    from qrelforge.io.files import umask, write_folder_atomic

    previous = os.umask(0o022)
    umask.cache_clear()
    try:
        write_atomic(tmp_path / "report.md", "x")
        write_folder_atomic(tmp_path / "model", lambda folder: (folder / "w.bin").write_bytes(b"1"))
    finally:
        os.umask(previous)
        umask.cache_clear()
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o755


def test_a_retry_shard_left_beside_its_units_shard_is_not_read(tmp_path: Path) -> None:
    """A run killed between writing a unit's shard and removing its retry shard leaves both: readers take the
    shard, and the unit is finished."""
    from qrelforge.io.shards import (
        Unit,
        finished,
        remove_leftover_retries,
        retried_judgments,
        shard_counts,
        shard_judgments,
        write_shard,
    )
    from qrelforge.records import Usage

    unit = Unit(0, str(tmp_path / "pairs.parquet"), 0, 0, 2, 1)
    first = [Judgment("q", "a", 1, "t:x:0"), Judgment("q", "b", None, "t:x:0", status="api_error")]
    write_shard(tmp_path, unit, first)
    assert finished(tmp_path) == set() and [j.status for j in shard_judgments(tmp_path)] == ["ok", "api_error"]
    assert retried_judgments(tmp_path, unit, [Pair("q", "a"), Pair("q", "b")]) == first
    assert retried_judgments(tmp_path, unit, [Pair("q", "b"), Pair("q", "a")]) is None  # not its rows: judged whole
    left = (tmp_path / unit.retry_shard).read_bytes()
    write_shard(tmp_path, unit, [first[0], Judgment("q", "b", 2, "t:x:0")])
    assert not (tmp_path / unit.retry_shard).exists() and finished(tmp_path) == {unit.shard}
    assert shard_counts(tmp_path / unit.shard) == ({"ok": 2}, Usage())  # what a retry finding it reports
    (tmp_path / unit.retry_shard).write_bytes(left)  # as if killed before the removal
    assert [(j.doc_id, j.grade) for j in shard_judgments(tmp_path)] == [("a", 1), ("b", 2)]
    remove_leftover_retries(tmp_path)  # what the next labeling run does first
    assert not (tmp_path / unit.retry_shard).exists() and finished(tmp_path) == {unit.shard}
