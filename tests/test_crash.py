"""Crash safety: labeling, teacher judging, the whole pipeline (generation included), training and Ray labeling are
killed with SIGKILL at random moments and resumed; the final outputs equal an uninterrupted run's — the same pairs,
the same grades, none lost, none twice — and no half-written file is read as output. 22 kills are planned per run, each
stage bounded in time; each test counts its own kills and needs all but one of them (the tests run in any order)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest
from fault_server import fault_server

from qrelforge import load_dataset, read_qrels

QRELFORGE = [sys.executable, "-m", "qrelforge"]
pytestmark = pytest.mark.slow  # a few minutes: dozens of processes started and killed


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def kill_and_resume(
    command: list[str], grows: Path, kills: int, seed: int, env: dict[str, str] | None = None, seconds: float = 120
) -> int:
    """Run ``command``; kill it with SIGKILL ``kills`` times, each time after ``grows`` grew by a random amount (or
    after a random delay); then run it to the end. Every run but the last must die by the signal. Returns the kills
    made (fewer than ``kills`` when the command finished before the next one)."""
    rng = random.Random(seed)
    made = 0
    deadline = time.monotonic() + seconds
    for _ in range(kills):
        before = grows.stat().st_size if grows.exists() else 0
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait = rng.uniform(0.0, 1.5)
        start = time.monotonic()
        while proc.poll() is None and time.monotonic() < deadline:
            grown = grows.exists() and grows.stat().st_size > before
            if grown and time.monotonic() - start > wait:
                break
            time.sleep(0.01)
        if proc.poll() is not None:  # it finished before the kill: nothing more to interrupt
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        made += 1
    final = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=max(deadline - time.monotonic(), 60)
    )
    assert final.returncode == 0, final.stdout + final.stderr
    return made


def same_store(killed: Path, whole: Path) -> None:
    """The killed-and-resumed store answers each pair exactly once, as the uninterrupted one does: the same grades
    and statuses, and the same probabilities up to float rounding (a resumed run scores pairs in other batches, padded
    to other lengths: fp32 sums in another order differ by a few 1e-5, seen in CI)."""

    def answers(path: Path) -> dict:
        kept = [r for r in rows(path) if r["status"] != "api_error"]
        counts = Counter((r["judge"], r["query_id"], r["doc_id"]) for r in kept)
        assert set(counts.values()) == {1}, "a pair was stored twice"
        return {(r["query_id"], r["doc_id"]): r for r in kept}

    mine, theirs = answers(killed), answers(whole)
    assert mine.keys() == theirs.keys()
    for pair, row in mine.items():
        assert (row["grade"], row["status"]) == (theirs[pair]["grade"], theirs[pair]["status"]), pair
        assert (row["probs"] is None) == (theirs[pair]["probs"] is None), pair
        if row["probs"] is not None:
            assert max(abs(a - b) for a, b in zip(row["probs"], theirs[pair]["probs"])) < 1e-4, pair


@pytest.fixture
def student(tiny_student: Path) -> Path:
    return tiny_student


def graded_by_hash(body: dict, number: int) -> tuple:
    """A deterministic teacher (its grade is a hash of the prompt), a little slow, so kills land mid-run."""
    prompt = body["messages"][0]["content"]
    if "Document:\n" in prompt:  # a generation prompt: the document's first words are the query
        return ("slow", 0.01, [" ".join(prompt.split("Document:\n", 1)[1].split()[:4])])
    return ("slow", 0.01, [f"Score: {zlib.crc32(prompt.encode()) % 4}"])


def graded_slowly(body: dict, number: int) -> tuple:
    """As :func:`graded_by_hash`, at 0.3 s an answer: 96 pairs two at a time take 14 s, room for six kills however fast
    the machine starts a run."""
    return ("slow", 0.3, graded_by_hash(body, number)[2])


def test_local_labeling_killed_six_times(student: Path, tmp_path: Path) -> None:
    demo = load_dataset("dl20-demo")
    command = QRELFORGE + [
        "label",
        "--judge",
        str(student),
        "--dataset",
        str(demo.folder),
        "--precision",
        "fp32",
        "--chunk-pairs",
        "32",
        "--quiet",
    ]
    subprocess.run(command + ["--out", str(tmp_path / "whole.txt")], check=True, capture_output=True)
    killed = tmp_path / "killed.txt"
    assert kill_and_resume(command + ["--out", str(killed)], killed.with_name("killed.txt.judgments.jsonl"), 6, 1) >= 5
    same_store(killed.with_name("killed.txt.judgments.jsonl"), tmp_path / "whole.txt.judgments.jsonl")
    assert read_qrels(killed) == read_qrels(tmp_path / "whole.txt") and len(read_qrels(killed)) == len(demo.pairs)


def test_teacher_judging_killed_six_times(small_dataset: Path, tmp_path: Path) -> None:
    with fault_server(graded_slowly) as server:
        (tmp_path / "t.yaml").write_text(f"model: m\nbase_url: {server.base_url}\nconcurrency: 2\nlogprobs: false\n")
        command = QRELFORGE + [
            "judge",
            "--dataset",
            str(small_dataset),
            "--teacher",
            str(tmp_path / "t.yaml"),
            "--quiet",
        ]
        env = {**os.environ, "OPENAI_API_KEY": "x"}
        subprocess.run(command + ["--out", str(tmp_path / "whole.txt")], check=True, capture_output=True, env=env)
        asked = len(server.bodies)
        killed = tmp_path / "killed.txt"
        kills = kill_and_resume(
            command + ["--out", str(killed)], killed.with_name("killed.txt.judgments.jsonl"), 6, 2, env
        )
        assert kills >= 5
        # each kill loses at most the batch in flight (4 x concurrency): the rest is never asked again
        assert len(server.bodies) - asked <= asked + 8 * kills
    same_store(killed.with_name("killed.txt.judgments.jsonl"), tmp_path / "whole.txt.judgments.jsonl")
    assert read_qrels(killed) == read_qrels(tmp_path / "whole.txt")


def test_the_pipeline_killed_five_times_anywhere(small_dataset: Path, tiny_base: Path, tmp_path: Path) -> None:
    """Index, generation, mining, judging, training and evaluation, killed wherever they are."""
    from test_pipeline import write_config

    with fault_server(graded_by_hash) as server:
        env = {**os.environ, "OPENAI_API_KEY": "x"}
        config = write_config(tmp_path, small_dataset, tiny_base, server.base_url)
        subprocess.run(
            QRELFORGE + ["run", str(config), "--out", str(tmp_path / "whole"), "--quiet"],
            check=True,
            capture_output=True,
            env=env,
        )
        killed = tmp_path / "killed"
        assert (
            kill_and_resume(
                QRELFORGE + ["run", str(config), "--out", str(killed), "--quiet"],
                killed / "judgments.jsonl",
                5,
                3,
                env,
                seconds=240,
            )
            >= 4
        )
    for output in ("generate/queries.jsonl", "mine/candidates.jsonl", "judge/qrels.txt"):
        assert (killed / output).read_text() == (tmp_path / "whole" / output).read_text(), output
    same_store(killed / "judgments.jsonl", tmp_path / "whole" / "judgments.jsonl")
    for stage in ("index", "generate", "mine", "judge", "train", "evaluate"):
        assert (
            json.loads((killed / stage / "manifest.json").read_text())["key"]
            == json.loads((tmp_path / "whole" / stage / "manifest.json").read_text())["key"]
        )


def test_training_killed_three_times(small_dataset: Path, tiny_base: Path, tmp_path: Path) -> None:
    command = QRELFORGE + [
        "train",
        "--dataset",
        str(small_dataset),
        "--base",
        str(tiny_base),
        "--student",
        "cross-encoder",
        "--epochs",
        "6",
        "--batch-size",
        "4",
        "--max-length",
        "64",
        "--checkpoint-minutes",
        "0",
        "--precision",
        "fp32",
        "--quiet",
    ]
    subprocess.run(command + ["--out", str(tmp_path / "whole")], check=True, capture_output=True)
    assert kill_and_resume(command + ["--out", str(tmp_path / "killed")], tmp_path / ".killed.checkpoint.pt", 3, 4) >= 2
    whole, killed = (json.loads((tmp_path / name / "qrelforge.json").read_text()) for name in ("whole", "killed"))
    assert killed["thresholds"] == pytest.approx(whole["thresholds"], abs=1e-5)
    assert killed["validation"]["cohen_kappa"] == pytest.approx(whole["validation"]["cohen_kappa"], abs=1e-6)
    assert not (tmp_path / ".killed.checkpoint.pt").exists()


@pytest.mark.ray
def test_ray_labeling_killed_twice(student: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    demo = load_dataset("dl20-demo")
    command = QRELFORGE + [
        "label",
        "--judge",
        str(student),
        "--dataset",
        str(demo.folder),
        "--precision",
        "fp32",
        "--engine",
        "ray",
        "--batch-pairs",
        "256",
        "--actors",
        "1",
        "--cpus-per-actor",
        "1",
        "--quiet",
    ]
    subprocess.run(command + ["--out", str(tmp_path / "whole.txt")], check=True, capture_output=True)
    killed = tmp_path / "killed.txt"
    assert (
        kill_and_resume(
            command + ["--out", str(killed)], killed.with_name("killed.txt.judgments.jsonl"), 2, 5, seconds=300
        )
        >= 1
    )
    same_store(killed.with_name("killed.txt.judgments.jsonl"), tmp_path / "whole.txt.judgments.jsonl")


@pytest.mark.ray
def test_ray_over_a_parquet_pair_set_killed_three_times(student: Path, tmp_path: Path) -> None:
    """The driver of a Parquet pair set's run is killed with SIGKILL three times, each after a few more shards; the
    resumed run's shards hold each pair once, with the uninterrupted run's answers."""
    pytest.importorskip("ray")
    import pyarrow as pa
    import pyarrow.parquet as pq

    from qrelforge.io.shards import shard_judgments

    pairs = load_dataset("dl20-demo").pairs
    ids = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"query_id": [p.query_id for p in pairs], "doc_id": [p.doc_id for p in pairs]}), ids)
    command = QRELFORGE + ["label", "--judge", str(student), "--dataset", "dl20-demo", "--precision", "fp32",
                           "--engine", "ray", "--pairs", str(ids), "--batch-pairs", "128", "--quiet"]  # fmt: skip
    whole = subprocess.run(
        command + ["--out", str(tmp_path / "whole.txt"), "--report", str(tmp_path / "report")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert "vs the human qrels of dl20-demo" in whole.stdout and "kappa" in (tmp_path / "report/report.md").read_text()
    shards = tmp_path / "killed.txt.shards"
    rng, kills = random.Random(7), 0
    for _ in range(3):
        before = len(list(shards.glob("shard-*.parquet")))
        proc = subprocess.Popen(
            command + ["--out", str(shards.with_suffix(""))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if len(list(shards.glob("shard-*.parquet"))) >= before + rng.randint(1, 4):
                break
            time.sleep(0.02)
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    final = subprocess.run(command + ["--out", str(shards.with_suffix(""))], capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert kills >= 2

    def answers(folder: Path) -> Counter:
        return Counter((j.query_id, j.doc_id, j.grade, j.status) for j in shard_judgments(folder))

    assert answers(shards) == answers(tmp_path / "whole.txt.shards") and set(answers(shards).values()) == {1}
    assert len(answers(shards)) == len(pairs)
    assert read_qrels(tmp_path / "killed.txt") == read_qrels(tmp_path / "whole.txt")
