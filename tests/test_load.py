"""Load: 2,000 pairs judged against the fault-injecting server at concurrency 32, with latency, 429s and dropped
connections mixed in. Every pair ends ok or api_error, exactly once in a consistent store, every ok grade is the
server's, and a rerun asks only for the failed ones. (20,000 pairs, with throughput and peak memory:
benchmarks/teacher_load.py; the suite keeps to its time.)"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import pytest
from fault_server import fault_server

from qrelforge import Dataset, JudgmentStore, Pair, TeacherConfig, label, load_teacher

pytestmark = pytest.mark.slow
PAIRS = 2_000


def synthetic(queries: int = 20, docs: int = 100) -> Dataset:
    """``queries`` x ``docs`` pairs of short texts."""
    return Dataset(
        "load",
        queries={f"q{i}": f"query number {i}" for i in range(queries)},
        docs={f"d{j}": f"a short passage, number {j}" for j in range(docs)},
        qrels={Pair(f"q{i}", f"d{j}"): 0 for i in range(queries) for j in range(docs)},
    )


def rough(body: dict, number: int) -> tuple:
    """1-20 ms of latency; 5% answered 429 (retry at once), 2% dropped; the grade is a hash of the prompt."""
    chance = random.Random(number)
    roll = chance.random()
    if roll < 0.05:
        return ("status", 429, {"Retry-After": "0"})
    if roll < 0.07:
        return ("drop",)
    return ("slow", chance.uniform(0.001, 0.02), [f"Score: {zlib.crc32(body['messages'][0]['content'].encode()) % 4}"])


def test_two_thousand_pairs_under_faults(tmp_path: Path) -> None:
    dataset = synthetic()
    pairs = dataset.pairs
    assert len(pairs) == PAIRS
    store = JudgmentStore(tmp_path / "j.jsonl")
    with fault_server(rough) as server:
        config = TeacherConfig(
            model="m",
            base_url=server.base_url,
            template="rubric",
            logprobs=False,
            concurrency=32,
            max_retries=3,
            timeout=10,
        )
        teacher = load_teacher(config)
        run = label(teacher, pairs, dataset, store, progress=False)
        store.close()
        print(
            f"{run.judged} pairs in {run.seconds:.0f} s ({run.pairs_per_second:.0f}/s), statuses {run.statuses}, "
            f"{len(server.bodies)} requests"
        )
        assert run.judged == PAIRS and set(run.statuses) <= {"ok", "api_error"}
        reread = JudgmentStore(tmp_path / "j.jsonl")
        judgments = reread.judgments(teacher.fingerprint)
        assert len(judgments) == PAIRS and len({j.pair for j in judgments}) == PAIRS
        lines = (tmp_path / "j.jsonl").read_text().splitlines()
        assert len(lines) == PAIRS  # one line per pair: nothing stored twice
        for j in judgments:
            if j.status == "ok":
                prompt = teacher.prompt.render(dataset.queries[j.query_id], dataset.docs[j.doc_id])
                assert j.grade == zlib.crc32(prompt.encode()) % 4
        failed = [j.pair for j in judgments if j.status == "api_error"]
        asked = len(server.bodies)
        again = label(teacher, pairs, dataset, reread, progress=False)
        assert again.judged == len(failed) and len(server.bodies) - asked >= len(failed)
