"""What caching the frozen trunk saves when only the top blocks of a big base train: the same training run with and
without ``TrunkCache``, each in its own process (for its peak RSS).

    python benchmarks/trunk_cache.py --base EMBEDDINGGEMMA_DIR --dataset ../shared/data/trec-dl-2019-passage \\
        --pairs 480 --epochs 3 --train-layers 2

Both runs see the same pairs in the same order (seed 13); the report gives each epoch's seconds and pairs/s (the
first epoch of the cached run pays one pass of the whole model per text), the final losses of both runs (equal up to
bf16 rounding: the cached run computes what the whole model does), and each process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from qrelforge import TrainConfig, load_dataset, teacher_examples, train_student
from qrelforge.train.data import TrainingSet


def one_run(args: argparse.Namespace) -> dict:
    """Train once (with the cache unless ``--no-cache``); per-epoch seconds from the loop's progress."""
    from qrelforge.students.trunk_cache import TrunkCache

    if args.no_cache:
        TrunkCache.run = lambda self, forward, batch, ids: forward(batch)  # type: ignore[method-assign]
    training = teacher_examples([load_dataset(args.dataset)])
    examples = random.Random(13).sample(training.examples, args.pairs)
    subset = TrainingSet(examples, training.teachers, training.datasets, training.statuses)
    stamps: list[float] = []
    original = TrunkCache.run

    def timed(self, forward, batch, ids):  # type: ignore[no-untyped-def]
        stamps.append(time.perf_counter())
        return original(self, forward, batch, ids)

    TrunkCache.run = timed  # type: ignore[method-assign]
    config = TrainConfig(
        base=args.base,
        train_layers=args.train_layers,
        epochs=args.epochs,
        val_fraction=0.0,
        checkpoint_minutes=None,
        batch_size=16,
    )
    start = time.perf_counter()
    result = train_student(subset, Path(args.out) / ("whole" if args.no_cache else "cached"), config, progress=False)
    return {
        "cache": not args.no_cache,
        "seconds": result.seconds,
        "pairs_per_second": result.train_pairs_per_second,
        "losses_last_10": sum(result.losses[-10:]) / 10,
        "epochs": args.epochs,
        "calls": len(stamps),
        "wall": time.perf_counter() - start,
        "epoch_seconds": epoch_seconds(stamps, args.epochs),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }


def epoch_seconds(stamps: list[float], epochs: int) -> list[float]:
    """Seconds per epoch from the times of the trunk's calls (each batch makes the same number of calls)."""
    per = len(stamps) // epochs
    ends = [stamps[min(len(stamps) - 1, (e + 1) * per - 1)] for e in range(epochs)]
    return [round(b - a, 1) for a, b in zip([stamps[0]] + ends[:-1], ends)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--pairs", type=int, default=480)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-layers", type=int, default=2)
    parser.add_argument("--out", default="/tmp/trunk-cache-bench")
    parser.add_argument("--no-cache", action="store_true", help="(one run, in a child process)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args)))
        return
    rows = []
    for flag in ([], ["--no-cache"]):
        done = subprocess.run(
            [sys.executable, __file__, "--child", *flag, *sys.argv[1:]], capture_output=True, text=True, check=True
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for row in rows:
        name = "trunk cached" if row["cache"] else "whole model"
        print(
            f"{name:13s} {row['pairs_per_second']:6.2f} pairs/s over {row['epochs']} epochs "
            f"({row['seconds']:.0f} s; per epoch {row['epoch_seconds']} s), last losses {row['losses_last_10']:.4f}, "
            f"peak RSS {row['peak_rss_gb']:.2f} GB"
        )


if __name__ == "__main__":
    main()
