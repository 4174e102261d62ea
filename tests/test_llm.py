"""The real SmolLM2-135M-Instruct GGUF through llama.cpp: in process, and behind a real OpenAI-compatible server
(``python -m llama_cpp.server``) on 127.0.0.1 that is killed mid-run and restarted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from qrelforge import Batch, JudgmentStore, TeacherConfig, load_dataset, load_teacher, replay_judge
from qrelforge.llm.clients import default_gguf

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def demo_pairs():
    demo = load_dataset("dl20-demo")
    by_grade = {g: [p for p in demo.pairs if demo.qrels[p] == g] for g in (0, 1, 2, 3)}
    return demo, [p for g in (0, 1, 2, 3) for p in by_grade[g][:5]]  # 20 pairs, five of each human grade


def test_local_model_answers_one_grade_token_with_probabilities(demo_pairs, tmp_path):
    demo, pairs = demo_pairs
    teacher = load_teacher(TeacherConfig(kind="llama-cpp", template="rubric"))
    judgments = teacher.judge(Batch(pairs[::4], demo))
    assert [j.pair for j in judgments] == pairs[::4]
    for j in judgments:
        assert j.status == "ok" and j.grade in (0, 1, 2, 3) and abs(sum(j.probs) - 1) < 1e-4
        assert max(range(4), key=lambda g: j.probs[g]) == j.grade  # greedy: the most probable grade token
        assert j.usage.prompt_tokens > 50 and j.usage.completion_tokens == 1
    again = teacher.judge(Batch(pairs[::4], demo))
    assert [(j.grade, j.probs) for j in again] == [(j.grade, j.probs) for j in judgments]


def test_a_passage_beyond_the_context_window_is_cut_by_tokens_and_marked(demo_pairs):
    """A 60,000-character passage (about 15k tokens, twice the model's 8k context) is judged on the part that fits,
    and the judgment says it was truncated; an ordinary passage is not."""
    from qrelforge import Dataset, Pair

    demo, pairs = demo_pairs
    long = Dataset(
        "long",
        queries={"q": "what is a cat"},
        docs={"long": "a cat is a small feline. " * 2400, "short": "a cat is a small feline."},
        qrels={},
    )
    teacher = load_teacher(TeacherConfig(kind="llama-cpp", template="rubric", max_passage_chars=None))
    cut, whole = teacher.judge(Batch([Pair("q", "long"), Pair("q", "short")], long))
    assert cut.status == "ok" and cut.truncated and 7000 < cut.usage.prompt_tokens <= 8192
    assert whole.status == "ok" and not whole.truncated


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """``python -m llama_cpp.server`` with the SmolLM2 GGUF, on a fixed local port across restarts."""

    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log, self.process = port, log, None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            default_gguf(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "4096",
            "--logits_all",
            "True",
            "--verbose",
            "False",
        ]
        self.process = subprocess.Popen(command, stdout=self.log.open("a"), stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/models", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"llama_cpp.server exited: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.5)
        raise RuntimeError("llama_cpp.server did not start in 120 s")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def server(tmp_path) -> Iterator[LlamaServer]:
    running = LlamaServer(_free_port(), tmp_path / "server.log")
    running.start()
    yield running
    if running.process.poll() is None:
        running.kill()


def test_real_server_killed_mid_run_then_restarted_judges_every_pair_exactly_once(demo_pairs, server, tmp_path):
    demo, pairs = demo_pairs
    (tmp_path / "pairs.txt").write_text("".join(f"{p.query_id} 0 {p.doc_id} 0\n" for p in pairs))
    (tmp_path / "teacher.yaml").write_text(
        f"model: smollm2\nbase_url: http://127.0.0.1:{server.port}/v1\ntemplate: rubric\nresponse_format: json_object\n"
        "max_tokens: 12\nconcurrency: 2\nmax_retries: 1\ntimeout: 60\n"
        "prices: {input_per_million: 0.15, output_per_million: 0.6}\n"
    )
    command = [
        sys.executable,
        "-m",
        "qrelforge",
        "judge",
        "--dataset",
        str(Path(demo.folder)),
        "--pairs",
        str(tmp_path / "pairs.txt"),
        "--teacher",
        str(tmp_path / "teacher.yaml"),
        "--out",
        str(tmp_path / "labels.txt"),
        "--quiet",
        "--report",
        str(tmp_path / "report"),
    ]
    store_file = tmp_path / "labels.txt.judgments.jsonl"
    env = {**os.environ, "OPENAI_API_KEY": "local"}

    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while not store_file.exists() or len(store_file.read_text().splitlines()) < 4:
        assert first.poll() is None, first.stdout.read()
        time.sleep(0.2)
    server.kill()
    output, _ = first.communicate(timeout=300)
    assert first.returncode == 2 and "the server is down or unreachable" in output, output  # stops, says why
    rows = [json.loads(line) for line in store_file.read_text().splitlines()]
    answered_first = {(r["query_id"], r["doc_id"]) for r in rows if r["status"] != "api_error"}
    assert 4 <= len(answered_first) < len(pairs)
    assert {r["status"] for r in rows} >= {"api_error"}

    server.start()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    rows = [json.loads(line) for line in store_file.read_text().splitlines()]
    answers = Counter((r["query_id"], r["doc_id"]) for r in rows if r["status"] != "api_error")
    assert sorted(answers) == sorted((p.query_id, p.doc_id) for p in pairs)
    assert set(answers.values()) == {1}  # every pair answered once: none re-asked (re-billed) after the restart
    final = JudgmentStore(store_file).judgments(rows[0]["judge"])
    assert len(final) == len(pairs) and all(j.status in ("ok", "parse_error") for j in final)
    assert all(j.usage.prompt_tokens > 0 for j in final)
    ok = [j for j in final if j.status == "ok"]
    assert ok and all(j.probs is not None and abs(sum(j.probs) - 1) < 1e-4 for j in ok)
    written = (tmp_path / "labels.txt").read_text().splitlines()
    assert len(written) == len(ok)  # parse failures are never written as grades
    soft = replay_judge(tmp_path / "labels.txt.soft.jsonl")  # the teacher's grade probabilities, for soft targets
    assert soft.scale == (0, 1, 2, 3) and {j.pair: j.probs for j in soft.judge(Batch([j.pair for j in ok]))} == {
        j.pair: j.probs for j in ok
    }
    assert "parse failures" in (tmp_path / "report" / "report.md").read_text()

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert "this run: 0 requests, 20 pairs reused" in rerun.stdout
