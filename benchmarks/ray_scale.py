"""How the Ray path over a Parquet pair set scales (issue 26): driver memory, throughput per CPU, and kills.

A tiny random student (a 2-block, 32-wide BERT with MiniLM's tokenizer, 4 training steps, max_length 256) labels pair
sets of growing size built from a real collection (DL20 passages and queries: realistic text lengths; the ids-only
pair set is joined with the dataset's texts on the workers). Each size runs as the CLI would
(`qrelforge label --engine ray --pairs PAIRS.parquet --dataset DIR`) in its own process, whose own peak RSS (VmHWM)
is polled from /proc. Then:
- throughput per CPU: the local engine on 1 thread and on 2, against Ray with 1 and 2 one-CPU actors, on the same
  unique pairs; Ray's steady rate is taken from the shards' write times (after each actor's first shard, so the
  cluster's and the model's start-up are left out) and also reported whole;
- kills: the same pair set labeled while the driver is SIGKILLed (3 times, each after a few more shards) and while an
  actor is SIGKILLed (3 times); each resumed run's shards must hold exactly the uninterrupted run's answers.

    python benchmarks/ray_scale.py --out /tmp/ray-scale [--sizes 100000,1000000,5000000] [--kill-size 100000]

Writes OUT/ray_scale.json and prints a table. Needs the ray extra.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # conftest.tiny_bert: the tests' tiny random BERT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared/data/trec-dl-2020-passage")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--kill-size", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--compare-pairs", type=int, default=60_000)
    parser.add_argument("--batch-pairs", type=int, default=1024)
    parser.add_argument("--skip-kills", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from qrelforge import load_dataset

    data = args.data if args.data.is_dir() else "dl20-demo"
    dataset = load_dataset(data)
    student = tiny_student(dataset, args.out)
    results: dict = {"cpu": cpu_name(), "data": str(data), "batch_pairs": args.batch_pairs}
    base = [*CLI, "--judge", str(student), "--dataset", str(data), "--batch-pairs", str(args.batch_pairs)]

    if args.compare_pairs:
        compare = pair_set(dataset, args.compare_pairs, args.out / f"pairs-{args.compare_pairs}.parquet")
        results["per_cpu"] = per_cpu(student, dataset, compare, base, args.out)
        print(json.dumps(results["per_cpu"], indent=1), flush=True)

    results["sizes"] = []
    for size in map(int, args.sizes.split(",")):
        pairs = pair_set(dataset, size, args.out / f"pairs-{size}.parquet")
        out = args.out / f"labels-{size}.txt"
        run = run_cli([*base, "--pairs", str(pairs), "--out", str(out)])
        row = {"pairs": size, **run, **steady_rate(out.with_name(out.name + ".shards"), 2)}
        results["sizes"].append(row)
        print(json.dumps(row), flush=True)
        write(args.out, results)

    if args.skip_kills:
        return
    pairs = pair_set(dataset, args.kill_size, args.out / f"pairs-{args.kill_size}.parquet")
    whole = args.out / f"labels-{args.kill_size}.txt.shards"
    if not whole.exists():
        run_cli([*base, "--pairs", str(pairs), "--out", str(whole.with_suffix(""))])
    results["kills"] = {
        who: kill_and_resume([*base, "--pairs", str(pairs)], args.out / f"killed-{who}.txt", who, args.kills, whole)
        for who in ("driver", "actor")
    }
    print(json.dumps(results["kills"], indent=1), flush=True)
    write(args.out, results)


CLI = [sys.executable, "-m", "qrelforge", "label", "--engine", "ray", "--precision", "fp32", "--quiet"]


def tiny_student(dataset, out: Path) -> Path:  # noqa: ANN001
    from conftest import tiny_bert
    from qrelforge import TrainConfig, teacher_examples, train_student

    if not (out / "student").exists():
        base = tiny_bert(out / "tiny-bert")
        config = TrainConfig(base=str(base), max_steps=4, max_length=256, batch_size=16, precision="fp32")
        examples = teacher_examples([dataset.subset(sorted(dataset.queries)[:8])])
        train_student(examples, out / "student", config, progress=False)
    return out / "student"


def pair_set(dataset, size: int, path: Path) -> Path:  # noqa: ANN001
    """``size`` rows of (query, doc) ids: every query crossed with every doc, in order, wrapping around."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        queries, docs = sorted(dataset.queries), sorted(dataset.docs)
        index = np.arange(size) % (len(queries) * len(docs))
        table = pa.table(
            {
                "query_id": pa.array(np.array(queries, dtype=object)[index // len(docs)], pa.string()),
                "doc_id": pa.array(np.array(docs, dtype=object)[index % len(docs)], pa.string()),
            }
        )
        pq.write_table(table, path, row_group_size=65_536)
    return path


def run_cli(command: list[str], env: dict | None = None) -> dict:
    """Run a command; its wall time, its own peak RSS (wait4) and the pairs/s it printed."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak_kb = 0
    while True:  # the driver's own high-water mark (wait4's ru_maxrss would include the Ray processes it reaps)
        with contextlib.suppress(OSError):  # a zombie's status has no VmHWM line
            if found := re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{proc.pid}/status").read_text()):
                peak_kb = max(peak_kb, int(found.group(1)))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{output}\n{proc.stderr.read() if proc.stderr else ''}")
    rate = re.search(r"([\d.]+) pairs/s", output)
    return {
        "seconds": round(time.perf_counter() - start, 1),
        "driver_peak_rss_mb": round(peak_kb / 1024, 1),
        "driver_and_reaped_children_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "pairs_per_s_whole": float(rate.group(1)) if rate else None,
    }


def steady_rate(shards: Path, actors: int) -> dict:
    """Pairs/s between each actor's first shard and the last shard (start-up left out), from the write times."""
    import pyarrow.parquet as pq

    files = sorted(shards.glob("shard-*.parquet"), key=lambda p: p.stat().st_mtime)
    if len(files) <= actors:
        return {"pairs_per_s_steady": None}
    rows = sum(pq.read_metadata(p).num_rows for p in files[actors:])
    seconds = files[-1].stat().st_mtime - files[actors - 1].stat().st_mtime
    return {"pairs_per_s_steady": round(rows / seconds, 1), "shards": len(files)}


def per_cpu(student: Path, dataset, pairs: Path, base: list[str], out: Path) -> dict:  # noqa: ANN001
    """The local engine (1 and 2 threads) against Ray (1 and 2 one-CPU actors) on the same unique pairs."""
    import torch

    from qrelforge import Batch, EngineSettings, load_student
    from qrelforge.io.parquet import read_parquet_pairs

    judge = load_student(student, EngineSettings("fp32"))
    todo = read_parquet_pairs(pairs)
    result = {"pairs": len(todo)}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        judge.judge(Batch(todo[:1000], dataset))  # warm
        start = time.perf_counter()
        for i in range(0, len(todo), 4096):
            judge.judge(Batch(todo[i : i + 4096], dataset))
        result[f"local_{threads}_thread"] = round(len(todo) / (time.perf_counter() - start), 1)
    for actors in (1, 2):
        labels = out / f"compare-{actors}.txt"
        run = run_cli([*base, "--actors", str(actors), "--pairs", str(pairs), "--out", str(labels)])
        steady = steady_rate(labels.with_name(labels.name + ".shards"), actors)["pairs_per_s_steady"]
        result[f"ray_{actors}_actor"] = {"whole": run["pairs_per_s_whole"], "steady": steady}
    result["ray_per_cpu_vs_local_1_thread"] = round(result["ray_2_actor"]["steady"] / 2 / result["local_1_thread"], 3)
    return result


def kill_and_resume(command: list[str], labels: Path, who: str, kills: int, whole: Path) -> dict:
    """Label while killing the driver (or an actor) ``kills`` times, each after a few more shards; then compare."""
    shards = labels.with_name(labels.name + ".shards")
    rng, made = random.Random(26), 0
    proc = None
    for _ in range(kills):
        before = len(list(shards.glob("shard-*.parquet")))
        if proc is None or proc.poll() is not None:
            proc = subprocess.Popen([*command, "--out", str(labels)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wanted = before + rng.randint(2, 8)
        while proc.poll() is None and len(list(shards.glob("shard-*.parquet"))) < wanted:
            time.sleep(0.02)
        if proc.poll() is not None:
            break
        if who == "driver":
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            made += 1
        else:
            actor = actor_pid()
            if actor is not None:
                os.kill(actor, signal.SIGKILL)
                made += 1
    if proc is not None and who == "actor":
        proc.wait()
    final = subprocess.run([*command, "--out", str(labels)], capture_output=True, text=True)
    if final.returncode != 0:
        raise SystemExit(final.stderr)
    return {"kills": made, **compare_shards(shards, whole)}


def actor_pid() -> int | None:
    """A live labeling actor's process (its title names the actor class)."""
    import psutil

    for process in psutil.process_iter(["cmdline"]):
        if any("ShardActor" in part for part in process.info["cmdline"] or []):
            return process.pid
    return None


def compare_shards(killed: Path, whole: Path) -> dict:
    """Whether two shard folders hold the same units with the same answers (grades, statuses; probabilities up to
    float rounding), and each pair of each unit once."""
    import pyarrow.parquet as pq

    names = sorted(p.name for p in whole.glob("shard-*.parquet"))
    same_units = names == sorted(p.name for p in killed.glob("shard-*.parquet"))
    same, largest = same_units, 0.0
    for name in names if same_units else []:
        a, b = (pq.read_table(folder / name).to_pydict() for folder in (killed, whole))
        same &= all(a[c] == b[c] for c in ("query_id", "doc_id", "grade", "status"))
        largest = max(largest, float(np.max(np.abs(np.array(a["probs"]) - np.array(b["probs"])))))
    return {"same_units": same_units, "same_answers": same, "largest_prob_difference": largest, "units": len(names)}


def cpu_name() -> str:
    text = Path("/proc/cpuinfo").read_text()
    name = re.search(r"model name\s*:\s*(.*)", text)
    flags = re.search(r"flags\s*:\s*(.*)", text)
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
    have = [f for f in wanted if flags and f in flags.group(1).split()]
    return f"{name.group(1) if name else '?'} ({os.cpu_count()} CPUs; {' '.join(have)})"


def write(out: Path, results: dict) -> None:
    (out / "ray_scale.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
