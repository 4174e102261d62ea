"""A Parquet pair set labeled on a local 2-CPU Ray cluster by workers that read it and write shards: the local
engine's answers, each pair exactly once when an actor dies, a rerun that labels only the missing units, texts read
on the workers from a dataset folder (JSONL or Parquet), exports streamed from the shards, bad input named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import killed_once
from qrelforge import Batch, Dataset, EngineSettings, RayOptions, export_shards, load_dataset, load_student, read_qrels
from qrelforge.cli import main
from qrelforge.errors import ConfigError, InputFormatError
from qrelforge.io.shards import shard_judgments

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'qrelforge[ray]'")
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from qrelforge.labeling.stream import ShardActor, label_parquet  # noqa: E402

pytestmark = pytest.mark.ray
PAIRS = 240
OPTIONS = RayOptions(actors=2, batch_pairs=32)


@pytest.fixture(scope="module")
def pair_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 demo pairs with their texts, in two files of row groups of 50 rows (units cross no row group)."""
    demo = load_dataset("dl20-demo")
    pairs = demo.pairs[:PAIRS]
    folder = tmp_path_factory.mktemp("pairs") / "pairs"
    folder.mkdir()
    for number, part in enumerate((pairs[:130], pairs[130:])):
        write_pair_set(demo, part, folder / f"part-{number}.parquet", row_group_size=50)
    return folder


def write_pair_set(demo: Dataset, pairs: list, path: Path, row_group_size: int) -> Path:
    """The pairs with their texts as a Parquet file."""
    table = pa.table(
        {
            "query_id": [p.query_id for p in pairs],
            "doc_id": [p.doc_id for p in pairs],
            "query": [demo.queries[p.query_id] for p in pairs],
            "text": [demo.docs[p.doc_id] for p in pairs],
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


@pytest.fixture(scope="module")
def whole(cluster: None, tiny_student: Path, pair_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run's shards (read only: a test that changes shards works on a copy)."""
    shards = tmp_path_factory.mktemp("whole") / "shards"
    run = label_parquet(
        load_student(tiny_student, EngineSettings("fp32")), pair_set, shards, options=OPTIONS, progress=False
    )
    assert run.judged == PAIRS and run.reused == 0 and run.statuses == {"ok": PAIRS}
    return shards


def answers(shards: Path) -> Counter:
    return Counter((j.query_id, j.doc_id, j.grade, j.status) for j in shard_judgments(shards))


def test_workers_give_the_local_engines_answers_once_each(tiny_student: Path, pair_set: Path, whole: Path) -> None:
    judge = load_student(tiny_student, EngineSettings("fp32"))
    demo = load_dataset("dl20-demo")
    pairs = demo.pairs[:PAIRS]
    local = {j.pair: j for j in judge.judge(Batch(pairs, demo))}
    stored = list(shard_judgments(whole))
    assert [j.pair for j in stored] == pairs  # the pair set's order, each pair once
    assert [j.grade for j in stored] == [local[j.pair].grade for j in stored]
    assert np.allclose([j.probs for j in stored], [local[j.pair].probs for j in stored], atol=1e-4)
    # 130 rows in row groups of 50 -> units 32+18, 32+18, 30; 110 rows -> 32+18, 32+18, 10: 10 shards
    assert len(list(whole.glob("shard-*.parquet"))) == 10
    again = label_parquet(judge, pair_set, whole, options=OPTIONS, progress=False)
    assert again.judged == 0 and again.reused == PAIRS


def test_a_rerun_labels_only_the_units_without_a_shard(
    tiny_student: Path, pair_set: Path, whole: Path, tmp_path: Path
) -> None:
    shards = shutil.copytree(whole, tmp_path / "shards")
    lost = sorted(shards.glob("shard-*.parquet"))[3:6]
    rows = sum(pq.read_metadata(p).num_rows for p in lost)
    for path in lost:
        path.unlink()
    judge = load_student(tiny_student, EngineSettings("fp32"))
    run = label_parquet(judge, pair_set, shards, options=RayOptions(actors=1, batch_pairs=7), progress=False)
    assert run.judged == rows and run.reused == PAIRS - rows  # the manifest's unit size is kept
    assert answers(shards) == answers(whole)


def test_a_killed_actor_loses_no_pair_and_repeats_none(
    tiny_student: Path, pair_set: Path, whole: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "killed"

    judge = load_student(tiny_student, EngineSettings("fp32"))
    run = label_parquet(
        judge, pair_set, tmp_path / "killed", options=OPTIONS, progress=False, actor=killed_once(ShardActor, marker)
    )
    assert marker.exists() and run.judged == PAIRS
    assert answers(tmp_path / "killed") == answers(whole)
    assert set(answers(tmp_path / "killed").values()) == {1}


def test_texts_are_read_on_the_workers_from_a_dataset_folder(
    tiny_student: Path, pair_set: Path, whole: Path, tmp_path: Path
) -> None:
    """Pairs without texts, joined by id on the workers with a dataset's docs.parquet and queries.parquet (docs.jsonl:
    tests/test_crash.py)."""
    demo = load_dataset("dl20-demo")
    judge = load_student(tiny_student, EngineSettings("fp32"))
    ids = tmp_path / "ids.parquet"
    pq.write_table(pq.read_table(pair_set, columns=["query_id", "doc_id"]), ids, row_group_size=100)
    with pytest.raises(ConfigError, match="no query and text columns"):
        label_parquet(judge, ids, tmp_path / "none", options=OPTIONS, progress=False)
    collection = tmp_path / "collection"
    collection.mkdir()
    pq.write_table(
        pa.Table.from_pylist([{"doc_id": d, "text": t} for d, t in demo.docs.items()]), collection / "docs.parquet"
    )
    pq.write_table(
        pa.Table.from_pylist([{"query_id": q, "text": t} for q, t in demo.queries.items()]),
        collection / "queries.parquet",
    )
    texts = Dataset.from_folder(collection)
    run = label_parquet(judge, ids, tmp_path / "shards", texts, OPTIONS, progress=False)
    assert run.judged == PAIRS and texts._docs is None  # read on the workers, never here
    assert answers(tmp_path / "shards") == answers(whole)


def test_shards_export_and_evaluate_as_their_qrels(
    tiny_student: Path, whole: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judge = load_student(tiny_student, EngineSettings("fp32"))
    shards = whole
    graded = {j.pair: j.grade for j in shard_judgments(shards)}
    assert export_shards(shards, tmp_path / "labels.txt") == PAIRS
    assert read_qrels(tmp_path / "labels.txt") == graded
    assert export_shards(shards, tmp_path / "labels.jsonl") == PAIRS
    rows = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert {(r["qid"], r["docid"]): r["judgment"] for r in rows} == {
        (p.query_id, p.doc_id): g for p, g in graded.items()
    }
    assert sum(rows[0]["probs"].values()) == pytest.approx(1.0, abs=2e-6)  # four, each rounded to 6 decimals
    assert export_shards(shards, tmp_path / "all.parquet") == PAIRS
    table = pq.read_table(tmp_path / "all.parquet")
    assert table.num_rows == PAIRS and set(table["judge"].to_pylist()) == {judge.fingerprint}
    qrels = str(load_dataset("dl20-demo").folder / "qrels.txt")
    for labels in (shards, tmp_path / "labels.txt"):  # agreement read from the shards as from their export
        assert main(["evaluate", str(labels), "--qrels", qrels, "--json"]) == 0
    from_shards, from_export = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert from_shards == from_export and from_shards["n"] == PAIRS


def test_another_judge_or_a_changed_pair_set_is_refused(
    tiny_student: Path, pair_set: Path, whole: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="holds the labels of"):
        label_parquet(load_student(tiny_student, EngineSettings("int8")), pair_set, whole, progress=False)
    one = tmp_path / "one.parquet"
    pq.write_table(pq.read_table(pair_set).slice(0, 10), one)
    with pytest.raises(ConfigError, match="another pair set"):
        label_parquet(load_student(tiny_student, EngineSettings("fp32")), one, whole, progress=False)


def test_a_missing_id_is_one_error_naming_the_file_and_row(
    cluster: None, tiny_student: Path, pair_set: Path, tmp_path: Path
) -> None:
    table = pq.read_table(pair_set).slice(0, 60).to_pylist()
    table[41]["doc_id"] = None
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist(table), bad, row_group_size=20)
    with pytest.raises(InputFormatError) as error:
        label_parquet(
            load_student(tiny_student, EngineSettings("fp32")),
            bad,
            tmp_path / "shards",
            options=OPTIONS,
            progress=False,
        )
    assert str(bad) in str(error.value) and "42" in str(error.value)
    result = subprocess.run(
        [sys.executable, "-m", "qrelforge", "label", "--judge", str(tiny_student), "--engine", "ray", "--pairs",
         str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "x.txt")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr and "missing.parquet" in result.stderr


def test_pairs_a_teacher_did_not_answer_are_asked_again_alone(
    cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A unit with failed teacher requests is kept as a retry shard (its answers readable, its failures never a
    grade); the rerun asks the failed pairs alone, once each, and finishes the unit's shard."""
    from fault_server import fault_server

    from qrelforge import TeacherConfig, load_teacher
    from qrelforge.io.shards import finished

    demo = load_dataset("dl20-demo")
    pairs = write_pair_set(demo, demo.pairs[:40], tmp_path / "pairs.parquet", row_group_size=40)
    shards, options, down = tmp_path / "labels.txt.shards", RayOptions(actors=2, batch_pairs=10), [True]

    def behaviour(body: dict, number: int) -> tuple:
        prompt = body["messages"][-1]["content"]
        return ("status", 503, {}) if down[0] and zlib.crc32(prompt.encode()) % 3 == 0 else ("ok", ["Score: 2"])

    with fault_server(behaviour) as server:
        teacher = load_teacher(TeacherConfig(model="fault-model", base_url=server.base_url, max_retries=0))
        first = label_parquet(teacher, pairs, shards, options=options, progress=False)
        failed = first.statuses.get("api_error", 0)
        assert 0 < failed < 40 and first.statuses == {"ok": 40 - failed, "api_error": failed}
        retry = sorted(p.name for p in shards.glob("*.retry.parquet"))
        assert retry and len(finished(shards)) + len(retry) == 4
        assert export_shards(shards, tmp_path / "first.txt") == 40 - failed  # the answers, never a failure
        assert first.usage.requests == 40 == len(server.bodies)
        asked, down[0] = len(server.bodies), False
        (tmp_path / "teacher.yaml").write_text(f"model: fault-model\nbase_url: {server.base_url}\nmax_retries: 0\n")
        rerun = ["label", "--judge", str(tmp_path / "teacher.yaml"), "--engine", "ray", "--actors", "2"]
        assert (
            main(
                [*rerun, "--batch-pairs", "10", "--pairs", str(pairs), "--out", str(shards.with_suffix("")), "--quiet"]
            )
            == 0
        )
        printed = capsys.readouterr().out
        assert f"labeled {failed:,} pairs on Ray ({failed:,} ok; {40 - failed:,} were already in" in printed
        assert f"teacher usage this run: {failed} requests" in printed
        assert "of the answers in the shards: 40 requests" in printed  # the failed attempts' answers were replaced
        assert len(server.bodies) - asked == failed  # only the failed pairs, once each
        assert not list(shards.glob("*.retry.parquet")) and len(finished(shards)) == 4
        third = label_parquet(teacher, pairs, shards, options=options, progress=False)
        assert third.judged == 0 and third.reused == 40 and len(server.bodies) - asked == failed
    assert [(j.pair, j.grade, j.status) for j in shard_judgments(shards)] == [(p, 2, "ok") for p in demo.pairs[:40]]
    assert read_qrels(shards.with_suffix("")) == {p: 2 for p in demo.pairs[:40]}
