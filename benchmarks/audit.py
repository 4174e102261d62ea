"""Does an audit find assessor mistakes? Plant them: flip a share of a real qrels file's grades at random (each to
another grade), audit the flipped file, and count the planted flips among the audit's most suspect pairs.

    python benchmarks/audit.py --dataset ../shared/data/trec-dl-2020-passage \\
        --judge gpt-4o=../shared/data/trec-dl-2020-passage/judges/narabzad__gpt-4o_graded_dl20_32.txt \\
        --judge student=/tmp/loco/trec-dl-2020-passage/student --out /tmp/audit-bench --seeds 5

Each judge alone and all together; a random order finds the share audited (10% of the flips in the top 10%). The
judges label once (their stores beside OUT are reused by every seed). Also reported: the ranking by the judges'
expected distance from the human grade alone (the audit uses it only to order equal scores).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np

from qrelforge import Pair, audit_job, load_dataset, load_judge
from qrelforge.cli.paths import named_path
from qrelforge.labeling.audit import audit_distance
from qrelforge.report import print_rows


def flip(qrels: dict[Pair, int], share: float, seed: int) -> tuple[dict[Pair, int], set[Pair]]:
    """``qrels`` with ``share`` of its grades changed, each to another grade at random; and the changed pairs."""
    rng = random.Random(seed)
    planted = set(rng.sample(sorted(qrels), round(share * len(qrels))))
    grades = sorted(set(qrels.values()))
    return qrels | {p: rng.choice([g for g in grades if g != qrels[p]]) for p in sorted(planted)}, planted


def found(order: list[Pair], planted: set[Pair], share: float) -> float:
    return len(set(order[: round(share * len(order))]) & planted) / len(planted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--judge", action="append", required=True, metavar="NAME=SPEC")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--flip", type=float, default=0.05, help="share of grades flipped (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    human = dict(dataset.qrels)
    judges = {name: load_judge(str(path), dataset, sorted(human)) for name, path in map(named_path, args.judge)}
    panels = {name: [judge] for name, judge in judges.items()}
    if len(judges) > 1:
        panels[" + ".join(judges)] = list(judges.values())
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, members in panels.items():
        start = time.perf_counter()
        shares: dict[str, list[float]] = {"top 5%": [], "top 10%": [], "top 20%": [], "distance alone, top 10%": []}
        for seed in range(1, args.seeds + 1):
            flipped, planted = flip(human, args.flip, seed)
            audit = audit_job(members, flipped, dataset, args.out / "audit", progress=False)
            order = [row.pair for row in audit.rows]
            for cut in (0.05, 0.10, 0.20):
                shares[f"top {cut:.0%}"].append(found(order, planted, cut))
            by_distance = sorted(audit.rows, key=lambda row: (-audit_distance(row.members, row.grade or 0), row.pair))
            shares["distance alone, top 10%"].append(found([row.pair for row in by_distance], planted, 0.10))
        rows.append(
            [name]
            + [f"{np.mean(v):.3f} ± {np.std(v):.3f}" for v in shares.values()]
            + [f"{time.perf_counter() - start:.0f}"]
        )
    rows.append(["random order", "0.050", "0.100", "0.200", "0.100", ""])
    print_rows(
        f"planted flips found: {args.flip:.0%} of {len(human):,} grades of {dataset.name} flipped, {args.seeds} seeds",
        ["judges", "top 5%", "top 10%", "top 20%", "expected distance alone, top 10%", "seconds"],
        rows,
    )


if __name__ == "__main__":
    main()
