"""The user's data is never at risk (issue 24): no command writes over one of its inputs, one process writes a store,
an interrupt keeps the work and says so in one line, and bad files and settings get one clear error."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest
from fault_server import fault_server

from qrelforge import Judgment, JudgmentStore, StoreError, load_dataset, read_qrels
from qrelforge.cli import main

QRELFORGE = [sys.executable, "-m", "qrelforge"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(QRELFORGE + list(args), capture_output=True, text=True, env=env)


def stored(path: Path) -> Counter:
    """How often each (judge, pair) is in a store file."""
    if not path.exists():
        return Counter()
    return Counter((r["judge"], r["query_id"], r["doc_id"]) for r in map(json.loads, path.read_text().splitlines()))


def hashed(body: dict, number: int) -> tuple:
    """A deterministic teacher, a little slow: its grade is a hash of the prompt."""
    return ("slow", 0.02, [f"Score: {zlib.crc32(body['messages'][0]['content'].encode()) % 4}"])


def teacher_yaml(folder: Path, base_url: str, extra: str = "") -> Path:
    path = folder / "teacher.yaml"
    path.write_text(f"model: m\nbase_url: {base_url}\nconcurrency: 4\nlogprobs: false\n{extra}")
    return path


# 1, 8: an output that is an input, or an existing folder, is refused before any work


@pytest.mark.parametrize(
    "command",
    [
        "label --judge human --dataset D --out D/qrels.txt",
        "label --judge D/qrels.txt --dataset D --out D/qrels.txt",
        "label --judge human --dataset D --out labels.txt --pairs labels.txt.judgments.jsonl",
        "label --judge human --dataset D --out D/docs.jsonl.judgments.jsonl/../queries.tsv",
        "label --judge human --dataset D --out D",
        "fill --run run.txt --qrels D/qrels.txt --judge human --dataset D --out D/qrels.txt",
        "export D/qrels.txt --to D/qrels.txt",
        "evaluate D/qrels.txt --qrels D/qrels.txt --report D",
        "train --dataset D --out D",
        "augment --dataset D --pairs D/qrels.txt --teacher D/qrels.txt --out D",
    ],
)
def test_an_output_that_is_an_input_is_refused_before_any_work(
    command: str, small_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chdir(tmp_path)
    dataset = tmp_path / "D"
    shutil.copytree(small_dataset, dataset)
    (tmp_path / "run.txt").write_text("")
    shutil.copy(dataset / "qrels.txt", tmp_path / "labels.txt.judgments.jsonl")  # a pairs file with an unlucky name
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert main([part.replace("D", str(dataset), 1) if part.startswith("D") else part for part in command.split()]) == 2
    error = capsys.readouterr().err
    assert error.startswith("qrelforge: error: the output") and error.count("\n") == 1, error
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # nothing written


def test_an_output_beside_the_inputs_is_fine(small_dataset: Path, tmp_path: Path) -> None:
    dataset = tmp_path / "D"
    shutil.copytree(small_dataset, dataset)
    assert (
        main(["label", "--judge", "human", "--dataset", str(dataset), "--out", str(dataset / "labels.txt"), "--quiet"])
        == 0
    )
    assert read_qrels(dataset / "labels.txt") == read_qrels(dataset / "qrels.txt")


# 4: one writer per store


def test_a_second_writer_of_a_store_is_refused_at_once_naming_the_first(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt.judgments.jsonl"
    with JudgmentStore(path) as store:
        store.append([Judgment("q1", "d1", 1, "judge")])
        with pytest.raises(
            StoreError, match=f"another process is writing the judgment store {path}: pid {os.getpid()}"
        ):
            JudgmentStore(path)
        holder = subprocess.run(
            [sys.executable, "-c", f"from qrelforge import JudgmentStore; JudgmentStore({str(path)!r})"],
            capture_output=True,
            text=True,
        )
        assert holder.returncode != 0 and f"pid {os.getpid()}" in holder.stderr
    with JudgmentStore(path) as again:  # released: the next writer gets in
        assert again.done("judge") == {Judgment("q1", "d1", 1, "judge").pair}
    assert not path.with_name(path.name + ".lock").exists()


def test_a_killed_writer_leaves_no_stuck_lock(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from qrelforge import JudgmentStore; import time; "
            f"s = JudgmentStore({str(path)!r}); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(StoreError, match=f"pid {holder.pid}"):
        JudgmentStore(path)
    holder.kill()
    holder.wait()
    JudgmentStore(path).close()  # the kernel dropped the killed holder's lock


def test_two_runs_on_one_out_judge_each_pair_once(tmp_path: Path) -> None:
    demo = load_dataset("dl20-demo")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"{p.query_id} 0 {p.doc_id} 0\n" for p in demo.pairs[:300]))
    with fault_server(hashed) as server:
        env = {**os.environ, "OPENAI_API_KEY": "x"}
        command = QRELFORGE + [
            "label",
            "--judge",
            str(teacher_yaml(tmp_path, server.base_url)),
            "--dataset",
            "dl20-demo",
            "--pairs",
            str(pairs),
            "--out",
            str(tmp_path / "c2.txt"),
            "--quiet",
        ]
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lock = tmp_path / "c2.txt.judgments.jsonl.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.01)
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert first.wait(timeout=120) == 0, first.stderr.read()
        asked = len(server.bodies)
    assert second.returncode == 2 and f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    keys = stored(tmp_path / "c2.txt.judgments.jsonl")
    assert len(keys) == 300 and set(keys.values()) == {1} and asked == 300  # nothing judged, nor paid, twice


# 5, 6: an interrupt keeps the work, in one line, with 130 or 143


def hear_ctrl_c() -> None:
    """In the child, before it starts: SIGINT as a terminal gives it, even where these tests run in a background
    job (whose children inherit SIGINT ignored, as Unix shells do for `cmd &`, and then never see a Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_at_random(
    command: list[str], store: Path, seed: int, runs: int, env: dict[str, str] | None = None, sig: int = signal.SIGINT
) -> list[float]:
    """Start ``command`` ``runs`` times, each stopped by ``sig`` at a random moment after its first save; returns,
    per interrupted run, the seconds since the store last grew when the signal came: the work at risk."""
    rng = random.Random(seed)
    at_risk: list[float] = []
    for _ in range(runs):
        before = sum(stored(store).values())
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=hear_ctrl_c,
        )
        size, first, grew = (store.stat().st_size if store.exists() else 0), None, None
        wait = rng.uniform(0.1, 1.5)  # after the run's first save
        while proc.poll() is None and (first is None or time.monotonic() - first < wait):
            now = store.stat().st_size if store.exists() else 0
            if now != size:
                size, grew = now, time.monotonic()
                first = first or grew
            time.sleep(0.005)
        if proc.poll() is not None:  # it finished first: nothing to interrupt, and nothing may have failed
            assert proc.returncode == 0, proc.stderr.read()
            continue
        risk = time.monotonic() - grew
        proc.send_signal(sig)
        code, error = proc.wait(timeout=60), proc.stderr.read()
        if code in (0, -sig) and not error:
            continue  # the signal came as it was exiting, its work all saved: nothing was interrupted
        at_risk.append(risk)
        assert code == 128 + sig, error
        assert "Traceback" not in error and error.count("\n") == 1 and error.startswith("qrelforge: interrupted"), error
        saved = sum(stored(store).values()) - before
        if "pairs judged by this run" in error:  # stopped while labeling (not while starting, or writing its files)
            assert f" {saved:,} pairs judged by this run are saved" in error, (saved, error)
    return at_risk


@pytest.mark.slow
def test_interrupted_at_random_then_resumed_ends_as_an_uninterrupted_run(tiny_student: Path, tmp_path: Path) -> None:
    """A student and a teacher run, each stopped three times by SIGINT and once by SIGTERM at random moments and
    resumed: the same pairs and grades as one uninterrupted run, none twice, and at each signal at most a few seconds
    of work not yet in the store."""
    demo = load_dataset("dl20-demo")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"{p.query_id} 0 {p.doc_id} 0\n" for p in demo.pairs[:2000]))
    risks = []
    with fault_server(hashed) as server:
        env = {**os.environ, "OPENAI_API_KEY": "x"}
        judges = {
            "student": [str(tiny_student), "--precision", "fp32", "--threads", "1", "--tokens-per-batch", "96"],
            "teacher": [str(teacher_yaml(tmp_path, server.base_url))],
        }
        for seed, (name, judge) in enumerate(judges.items()):
            command = QRELFORGE + [
                "label",
                "--judge",
                *judge,
                "--dataset",
                "dl20-demo",
                "--pairs",
                str(pairs),
                "--quiet",
            ]
            whole, killed = tmp_path / f"{name}-whole.txt", tmp_path / f"{name}-killed.txt"
            subprocess.run(command + ["--out", str(whole)], check=True, env=env, capture_output=True)
            store = killed.with_name(killed.name + ".judgments.jsonl")
            risks += interrupt_at_random(command + ["--out", str(killed)], store, seed, 3, env)
            risks += interrupt_at_random(command + ["--out", str(killed)], store, seed + 10, 1, env, signal.SIGTERM)
            subprocess.run(command + ["--out", str(killed)], check=True, env=env, capture_output=True)
            keys = stored(store)
            assert set(keys.values()) == {1} and len(keys) == 2000, name  # none twice, none lost
            assert read_qrels(killed) == read_qrels(whole), name
    assert len(risks) >= 5, f"only {len(risks)} of 8 runs were still labeling at their signal"
    print(
        f"{len(risks)} interrupts; seconds of work not yet stored at the signal: max {max(risks):.2f}, "
        f"mean {sum(risks) / len(risks):.2f}"
    )
    assert max(risks) < 8  # the store grows every couple of seconds (SAVE_SECONDS = 2)


def test_ctrl_c_while_a_timer_fires_stops_the_requests_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """The teacher's requests run in an event loop. A Ctrl-C that lands while one of its callbacks sets a future (as a
    timer's does at the end of a sleep) is handled between callbacks: the future is not cancelled under the callback
    (asyncio's own handler did, and printed "Exception in callback ... InvalidStateError")."""
    import asyncio

    from qrelforge.errors import Interrupted
    from qrelforge.llm.clients import run_requests

    async def requests() -> None:
        loop = asyncio.get_running_loop()
        woken = loop.create_future()

        def timer() -> None:
            os.kill(os.getpid(), signal.SIGINT)  # the signal arrives while this callback runs
            woken.set_result(None)

        loop.call_soon(timer)
        await woken
        await asyncio.sleep(30)  # stopped here, by the signal

    with pytest.raises(KeyboardInterrupt) as stop:
        run_requests(requests())
    assert isinstance(stop.value, Interrupted) and stop.value.signum == signal.SIGINT
    assert not [r for r in caplog.records if r.name == "asyncio"], caplog.text


# 7, 15: a damaged model folder is one error naming the file; a saved model's files are all readable by others


def test_a_truncated_weight_file_is_named_and_nothing_is_left_behind(
    tiny_student: Path, small_dataset: Path, tmp_path: Path
) -> None:
    student = tmp_path / "student"
    shutil.copytree(tiny_student, student)
    weights = student / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    out = run("label", "--judge", str(student), "--dataset", str(small_dataset), "--out", str(tmp_path / "l.txt"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{weights}: expected a whole safetensors file" in out.stderr and "truncated" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small", "student"]  # no store, no lock, no labels


def test_a_saved_students_files_keep_the_umasks_permissions(tiny_student: Path) -> None:
    from qrelforge.io.files import umask

    modes = {p.name: p.stat().st_mode & 0o777 for p in tiny_student.rglob("*") if p.is_file()}
    assert modes["model.safetensors"] == modes["qrelforge.json"] == 0o666 & ~umask(), modes


# 9, 12, 14: files that are not what they should be


def test_bad_dataset_files_are_named_with_their_line(small_dataset: Path, tmp_path: Path) -> None:
    dataset = tmp_path / "D"
    shutil.copytree(small_dataset, dataset)
    queries = (dataset / "queries.tsv").read_text().splitlines()
    (dataset / "queries.tsv").write_text("\n".join(queries[:2] + [queries[2] + "\textra column"] + queries[3:]) + "\n")
    out = run("label", "--judge", "human", "--dataset", str(dataset), "--out", str(tmp_path / "l.txt"))
    assert out.returncode == 2 and "queries.tsv:3: expected two tab-separated columns" in out.stderr
    assert "got 3 tab-separated columns" in out.stderr
    shutil.copy(small_dataset / "queries.tsv", dataset / "queries.tsv")
    (dataset / "docs.jsonl").write_text('{"doc_id": "d1", "text": 42}\n')
    out = run("label", "--judge", "human", "--dataset", str(dataset), "--out", str(tmp_path / "l.txt"))
    assert (
        out.returncode == 2
        and "docs.jsonl:1: expected a string field \"text\"; got 'text' holding a number (42)" in out.stderr
    )
    shutil.copy(small_dataset / "docs.jsonl", dataset / "docs.jsonl")
    (dataset / "qrels.txt").write_text("")
    out = run("label", "--judge", "human", "--dataset", str(dataset), "--out", str(tmp_path / "l.txt"))
    assert out.returncode == 2 and f"nothing to label: {dataset / 'qrels.txt'} holds no pairs" in out.stderr
    assert not (tmp_path / "l.txt").exists()


# 10, 11: settings that cannot work are refused when read, before any request


@pytest.mark.parametrize(
    "setting, message",
    [
        ("base_url: notaurl", "teacher base_url 'notaurl' is not an http(s) URL with a host"),
        ("base_url: ftp://example.org/v1", "is not an http(s) URL"),
        ("prices: {input_per_million: -2.5}", "input_per_million must be zero or more"),
        ("concurrency: 0", "concurrency must be at least 1"),
        ("timeout: 0", "timeout must be more than 0 seconds"),
        ("temperature: -1", "temperature must be 0.0 or more"),
        ("requests_per_minute: 0", "requests_per_minute must be more than 0"),
    ],
)
def test_teacher_settings_are_checked_before_the_dry_run(
    setting: str, message: str, small_dataset: Path, tmp_path: Path
) -> None:
    (tmp_path / "t.yaml").write_text(f"model: m\n{setting}\n")
    out = run(
        "label",
        "--judge",
        str(tmp_path / "t.yaml"),
        "--dataset",
        str(small_dataset),
        "--out",
        str(tmp_path / "l.txt"),
        "--dry-run",
    )
    assert out.returncode == 2 and message in out.stderr and str(tmp_path / "t.yaml") in out.stderr, out.stderr


def test_an_unreachable_server_is_named_by_its_base_url(small_dataset: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "t.yaml").write_text(f"model: m\nbase_url: http://127.0.0.1:{port}/v1\nmax_retries: 0\n")
    out = run(
        "label",
        "--judge",
        str(tmp_path / "t.yaml"),
        "--dataset",
        str(small_dataset),
        "--out",
        str(tmp_path / "l.txt"),
        env={**os.environ, "OPENAI_API_KEY": "x"},
    )
    assert out.returncode == 2 and f"from base_url http://127.0.0.1:{port}/v1" in out.stderr, out.stderr


# 13, 16: messages and the version


def test_a_store_exported_to_label_jsonl_says_what_it_can_be(small_dataset: Path, tmp_path: Path) -> None:
    assert (
        main(
            ["label", "--judge", "human", "--dataset", str(small_dataset), "--out", str(tmp_path / "l.txt"), "--quiet"]
        )
        == 0
    )
    out = run("export", str(tmp_path / "l.txt.judgments.jsonl"), "--to", str(tmp_path / "x.jsonl"))
    assert (
        out.returncode == 2
        and "is a judgment store with 1 judge; it cannot be written as label JSONL: export "
        "it to .parquet (every field of every judgment) or to .txt (its grades as TREC qrels)"
        in out.stderr
    )
    assert run("export", str(tmp_path / "l.txt.judgments.jsonl"), "--to", str(tmp_path / "x.txt")).returncode == 0
    assert read_qrels(tmp_path / "x.txt") == read_qrels(small_dataset / "qrels.txt")


def test_version() -> None:
    from importlib import metadata

    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"qrelforge {metadata.version('qrelforge')}"
