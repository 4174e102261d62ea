"""The Ray Data backend on a local 2-CPU cluster: the local engine's results, each pair exactly once, even when an
actor is killed mid-batch, and an interrupted run's shards are merged without relabeling."""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import killed_once
from qrelforge import (
    Batch,
    Budget,
    EngineSettings,
    JudgmentStore,
    RayOptions,
    TrainConfig,
    label_with_ray,
    load_dataset,
    load_student,
    replay_judge,
    teacher_examples,
    train_student,
)

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'qrelforge[ray]'")
from qrelforge.labeling.ray import JudgeActor  # noqa: E402  (JudgeActor's module needs no ray; its tests do)

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Path:
    config = TrainConfig(base=str(tiny_base), epochs=1, batch_size=16, max_length=64, max_steps=3)
    return train_student(
        teacher_examples([load_dataset("dl20-demo")]),
        tmp_path_factory.mktemp("ray") / "student",
        config,
        progress=False,
    ).model_dir


def stored(path: Path) -> Counter:
    """How often each (judge, pair) is in the store file."""
    return Counter((r["judge"], r["query_id"], r["doc_id"]) for r in map(json.loads, path.read_text().splitlines()))


def shard_rows(folder: Path) -> list[tuple[str, str]]:
    import pyarrow.parquet as pq

    return [
        (q, d)
        for path in folder.glob("part-*.parquet")
        for q, d in zip(*pq.read_table(path, columns=["query_id", "doc_id"]).to_pydict().values())
    ]


def test_ray_gives_the_local_engines_results(cluster: None, student: Path, tmp_path: Path) -> None:
    dataset = load_dataset("dl20-demo")
    pairs = dataset.pairs[:200]
    settings = EngineSettings("fp32")
    judge = load_student(student, settings)
    local = judge.judge(Batch(pairs, dataset))
    store = JudgmentStore(tmp_path / "ray.jsonl")
    run = label_with_ray(
        judge, pairs, dataset, store, tmp_path / "shards", RayOptions(actors=2, batch_pairs=32), progress=False
    )
    assert run.judge == local[0].judge and run.judged == 200 and run.statuses == {"ok": 200}
    remote = store.judgments(run.judge, pairs)
    assert [j.pair for j in remote] == pairs
    assert [j.grade for j in remote] == [j.grade for j in local]
    assert np.allclose([j.probs for j in remote], [j.probs for j in local], atol=1e-4)  # other batches
    assert sorted(shard_rows(tmp_path / "shards")) == sorted((p.query_id, p.doc_id) for p in pairs)
    again = label_with_ray(judge, pairs, dataset, store, tmp_path / "shards", progress=False)
    assert again.judged == 0 and again.reused == 200  # nothing is labeled twice


def test_killed_actor_loses_no_pair_and_repeats_none(cluster: None, student: Path, tmp_path: Path) -> None:
    marker = tmp_path / "killed"

    dataset = load_dataset("dl20-demo")
    pairs = dataset.pairs[:300]
    store = JudgmentStore(tmp_path / "ray.jsonl")
    run = label_with_ray(
        load_student(student, EngineSettings("fp32")),
        pairs,
        dataset,
        store,
        tmp_path / "shards",
        RayOptions(actors=2, batch_pairs=25),
        progress=False,
        actor=killed_once(JudgeActor, marker),
    )
    assert marker.exists()  # an actor really died
    assert run.judged == 300
    counts = stored(store.path)
    assert set(counts.values()) == {1} and {(q, d) for _, q, d in counts} == {(p.query_id, p.doc_id) for p in pairs}
    assert Counter(shard_rows(tmp_path / "shards")) == Counter((p.query_id, p.doc_id) for p in pairs)


def test_shards_of_an_interrupted_run_are_merged_not_relabeled(cluster: None, student: Path, tmp_path: Path) -> None:
    """A run stopped after writing shards but before appending them to the store: the rerun takes them as done."""
    dataset = load_dataset("dl20-demo")
    pairs = dataset.pairs[:120]
    first = JudgmentStore(tmp_path / "first.jsonl")
    judge = load_student(student, EngineSettings("fp32"))
    label_with_ray(judge, pairs[:80], dataset, first, tmp_path / "shards", RayOptions(batch_pairs=40), progress=False)
    store = JudgmentStore(tmp_path / "ray.jsonl")  # a store that never saw those 80 pairs
    run = label_with_ray(judge, pairs, dataset, store, tmp_path / "shards", RayOptions(batch_pairs=40), progress=False)
    assert run.reused == 80 and run.judged == 40
    assert set(stored(store.path).values()) == {1} and len(stored(store.path)) == 120
    assert sorted(shard_rows(tmp_path / "shards")) == sorted((p.query_id, p.doc_id) for p in pairs)


def test_any_judge_runs_on_ray_and_so_does_routing(cluster: None, student: Path, tmp_path: Path) -> None:
    """A replayed teacher on Ray actors gives its own answers; a cascade runs its student on Ray, and routes and
    merges as it does in this process."""
    from qrelforge.labeling.route import route_job

    dataset = load_dataset("dl20-demo")
    pairs = dataset.pairs[:150]
    gpt4o = replay_judge(dataset.folder / "teacher-gpt-4o-umbrela.txt")
    with JudgmentStore(tmp_path / "replay.jsonl") as store:
        run = label_with_ray(
            gpt4o, pairs, dataset, store, tmp_path / "shards", RayOptions(actors=2, batch_pairs=50), progress=False
        )
        assert run.judged == 150 and {j.pair: j.grade for j in store.judgments(gpt4o.fingerprint)} == {
            p: gpt4o.grades[p] for p in pairs
        }
    judge = load_student(student, EngineSettings("fp32"))
    on_ray = route_job(
        judge,
        gpt4o,
        pairs,
        dataset,
        tmp_path / "ray.txt",
        Budget(pairs=20),
        ray=RayOptions(actors=2, batch_pairs=50),
        progress=False,
    )
    here = route_job(judge, gpt4o, pairs, dataset, tmp_path / "local.txt", Budget(pairs=20), progress=False)
    assert (
        on_ray.routed == here.routed
        and on_ray.labels == here.labels
        and on_ray.sources == {"student": 130, "teacher": 20}
    )


def test_a_teacher_on_ray_keeps_one_concurrency_and_one_backoff_over_all_actors(cluster: None, tmp_path: Path) -> None:
    """Two actors share the teacher's concurrency of 3 (each alone would allow 3), a 429 seen by one actor holds back
    both for its Retry-After, 5xx answers are retried, and every pair is stored once."""
    from fault_server import Watched, fault_server

    from qrelforge import TeacherConfig, load_teacher

    def behaviour(body: dict, number: int) -> tuple:
        if number == 15:
            return ("status", 429, {"Retry-After": "1"})
        if number % 9 == 0:
            return ("status", 503, {})
        time.sleep(0.1)
        return ("ok", [f"Score: {zlib.crc32(body['messages'][0]['content'].encode()) % 4}"])

    watched = Watched(behaviour)
    dataset = load_dataset("dl20-demo")
    pairs = dataset.pairs[:60]
    with fault_server(watched) as server, JudgmentStore(tmp_path / "teacher.jsonl") as store:
        teacher = load_teacher(
            TeacherConfig(model="fault-model", base_url=server.base_url, max_retries=3, timeout=5.0, concurrency=3)
        )
        run = label_with_ray(
            teacher, pairs, dataset, store, tmp_path / "shards", RayOptions(actors=2, batch_pairs=10), progress=False
        )
    assert run.judged == 60 and run.statuses == {"ok": 60}
    assert set(stored(store.path).values()) == {1} and len(stored(store.path)) == 60
    assert 2 <= watched.most <= 3  # one limit over both actors
    limited = next(t for t, n in watched.arrivals if n == 15)
    assert not [t for t, _ in watched.arrivals if limited + 0.1 < t < limited + 0.9]  # both actors waited out the 429


def test_a_teacher_on_ray_keeps_one_rate_over_all_actors(cluster: None, tmp_path: Path) -> None:
    from fault_server import fault_server

    from qrelforge import TeacherConfig, load_teacher

    arrivals: list[float] = []

    def behaviour(body: dict, number: int) -> tuple:
        arrivals.append(time.monotonic())
        return ("ok", ["Score: 1"])

    dataset = load_dataset("dl20-demo")
    with fault_server(behaviour) as server, JudgmentStore(tmp_path / "teacher.jsonl") as store:
        config = TeacherConfig(model="fault-model", base_url=server.base_url, concurrency=4, requests_per_minute=300)
        run = label_with_ray(
            load_teacher(config), dataset.pairs[:21], dataset, store, tmp_path / "shards",
            RayOptions(actors=2, batch_pairs=7), progress=False,
        )  # fmt: skip
    assert run.statuses == {"ok": 21} and len(arrivals) == 21
    assert max(arrivals) - min(arrivals) >= 20 / 5 * 0.9  # 5 a second over both actors (each alone: 10 a second)


def test_a_teacher_on_ray_keeps_to_its_budget(cluster: None, tmp_path: Path) -> None:
    """A pair count, then money: on Ray the budget is spent before any request is sent, each pair at its worst case,
    and the run's bill never goes over it (earlier answers in the store count)."""
    from fault_server import fault_server

    from qrelforge import Prices, TeacherConfig, load_teacher
    from qrelforge.judges.cost import spent

    dataset = load_dataset("dl20-demo")
    pairs = dataset.pairs[:40]
    prices = Prices(input_per_million=1000.0, output_per_million=1000.0)
    with fault_server(lambda body, n: ("ok", ["Score: 2"])) as server:
        teacher = load_teacher(TeacherConfig(model="fault-model", base_url=server.base_url, prices=prices))
        options = RayOptions(actors=2, batch_pairs=5)
        with JudgmentStore(tmp_path / "teacher.jsonl") as store:
            first = label_with_ray(
                teacher, pairs, dataset, store, tmp_path / "s", options, False, budget=Budget(pairs=12)
            )
            assert first.judged == 12 and first.stopped_by_budget and len(server.bodies) == 12
            bill = spent(teacher, store.judgments(teacher.fingerprint))
            cap = bill + bill / 12 * 10  # ten more pairs at their real cost: fewer at their worst case
            second = label_with_ray(
                teacher, pairs, dataset, store, tmp_path / "s", options, False, budget=Budget(usd=cap)
            )
            assert 0 < second.judged < 10 and second.stopped_by_budget
            assert spent(teacher, store.judgments(teacher.fingerprint)) <= cap
