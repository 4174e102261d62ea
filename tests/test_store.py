"""The judgment store survives a crash, keeps judges apart, and never holds a pair twice for one judge."""

from __future__ import annotations

from pathlib import Path

import pytest

from qrelforge import InputFormatError, Judgment, JudgmentStore, Pair, StoreError


def j(q: str, d: str, grade: int | None, judge: str = "A", status: str = "ok") -> Judgment:
    return Judgment(q, d, grade, judge, status=status, probs=(0.1, 0.9) if grade else None)


def test_round_trip_and_judges_kept_apart(tmp_path: Path) -> None:
    with JudgmentStore(tmp_path / "s.jsonl") as store:
        store.append([j("q1", "d1", 1), j("q1", "d2", None, status="parse_error")])
        store.append([j("q1", "d1", 3, judge="B")])
    again = JudgmentStore(tmp_path / "s.jsonl")
    assert again.done("A") == {Pair("q1", "d1"), Pair("q1", "d2")}
    assert again.judgments("A") == [j("q1", "d1", 1), j("q1", "d2", None, status="parse_error")]
    assert [x.grade for x in again.judgments("B")] == [3]


def test_torn_last_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    JudgmentStore(path).append([j("q1", "d1", 1), j("q1", "d2", 2)])
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"judge": "A", "query_id": "q1", "doc_id": "d3", "gra')  # killed mid-write
    with JudgmentStore(path) as store:
        assert store.done("A") == {Pair("q1", "d1"), Pair("q1", "d2")}
        assert path.read_bytes() == whole  # the torn tail is gone, so the next append starts on a fresh line
        store.append([j("q1", "d3", 0)])
    assert len(JudgmentStore(path).judgments("A")) == 3


def test_a_pair_is_stored_once_per_judge(tmp_path: Path) -> None:
    store = JudgmentStore(tmp_path / "s.jsonl")
    store.append([j("q1", "d1", 1)])
    with pytest.raises(StoreError, match="already stored"):
        store.append([j("q1", "d1", 2)])
    with pytest.raises(StoreError, match="repeated in batch"):
        store.append([j("q1", "d2", 2), j("q1", "d2", 2)])
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 1


def test_corrupt_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    JudgmentStore(path).append([j("q1", "d1", 1)])
    path.write_text(path.read_text() + "not json\n" + path.read_text())
    with pytest.raises(InputFormatError) as info:
        JudgmentStore(path)
    assert info.value.line == 2 and info.value.path == str(path)
