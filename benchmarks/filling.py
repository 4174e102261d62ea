"""What filling the holes of a pool buys: system rankings on partial qrels, filled or not, against the full qrels.

    python benchmarks/filling.py --dataset ../shared/data/trec-dl-2020-passage \
        --filler student=STUDENT_LABELS --filler gpt-4o=.../judges/narabzad__gpt-4o_graded_dl20_32.txt \
        --base /work/models/embeddinggemma-300m [--keep 10,30,50] [--seeds 3]

Systems rerank each query's judged docs: BM25 (bm25s: default, k1 0.9 / b 0.4, unstemmed), the cosine of each base
(MiniLM packaged, and each
``--base``; frozen, from the embedding cache), and reciprocal-rank fusions of every pair and of all of them. For each
share kept (a random share of the human judgments, per seed), each system's nDCG@10 is computed on the kept qrels
(holes count as not relevant), and on the kept qrels filled by each filler in the union of the systems' top 10
(``labeling/fill.py``'s rule: a human label always wins). Reported: Kendall's tau of the system ordering against the
full qrels' ordering, and the largest drop of one system's rank, averaged over seeds.
"""

from __future__ import annotations

import argparse
import random
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).parent))

from bases import cosines, frozen  # noqa: E402

from qrelforge import BM25Index, IndexConfig, load_dataset, replay_judge  # noqa: E402
from qrelforge.evaluate.ranking import per_query  # noqa: E402
from qrelforge.labeling.fill import holes  # noqa: E402
from qrelforge.report import markdown_table  # noqa: E402
from qrelforge.students.base import numeric_format  # noqa: E402
from qrelforge.students.encoders import default_base  # noqa: E402

BM25S = {
    "bm25": IndexConfig(),
    "bm25 k1=0.9 b=0.4": IndexConfig(k1=0.9, b=0.4),
    "bm25 unstemmed": IndexConfig(stemmer=None),
}


def systems(dataset: object, bases: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Runs over each query's judged docs: BM25 in three settings, each base's cosine, and RRF fusions."""
    pairs = dataset.pairs
    runs: dict[str, dict[str, dict[str, float]]] = {}
    for name, config in BM25S.items():
        index, runs[name] = BM25Index.build(dataset.docs, config), {}
        for p in pairs:
            runs[name].setdefault(p.query_id, {})[p.doc_id] = index.scores(dataset.queries[p.query_id], [p.doc_id])[0]
    fmt = numeric_format("auto", "cpu")
    for base in bases:
        scores = cosines(
            frozen(base, fmt),
            [dataset.queries[p.query_id] for p in pairs],
            [dataset.docs[p.doc_id] for p in pairs],
            fmt,
        )
        name = "cos " + ("minilm" if base == default_base() else Path(base).name)
        runs[name] = {}
        for p, s in zip(pairs, scores):
            runs[name].setdefault(p.query_id, {})[p.doc_id] = float(s)
    singles = list(runs)
    for size in range(2, len(singles) + 1):
        for group in combinations(singles, size):
            runs["rrf(" + ", ".join(group) + ")"] = rrf([runs[g] for g in group])
    return runs


def rrf(runs: list[dict[str, dict[str, float]]], k: int = 60) -> dict[str, dict[str, float]]:
    fused: dict[str, dict[str, float]] = {}
    for run in runs:
        for query_id, docs in run.items():
            ranked = sorted(docs, key=lambda d: (-docs[d], d))
            for rank, doc in enumerate(ranked, start=1):
                fused.setdefault(query_id, {}).setdefault(doc, 0.0)
                fused[query_id][doc] += 1 / (k + rank)
    return fused


def ordering(runs: dict, qrels: dict) -> dict[str, float]:
    return {
        name: float(np.mean(list(per_query(qrels, run, ["nDCG@10"])["nDCG@10"].values()))) for name, run in runs.items()
    }


def compare(full: dict[str, float], other: dict[str, float]) -> tuple[float, int]:
    names = sorted(full)
    tau = kendalltau([full[n] for n in names], [other[n] for n in names]).statistic
    rank_full = {n: r for r, n in enumerate(sorted(names, key=lambda n: -full[n]))}
    rank_other = {n: r for r, n in enumerate(sorted(names, key=lambda n: -other[n]))}
    return float(tau), max(rank_other[n] - rank_full[n] for n in names)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--dataset", required=True)
    args.add_argument("--filler", action="append", required=True, metavar="NAME=LABELS")
    args.add_argument("--base", action="append", default=[])
    args.add_argument("--keep", default="10,30,50")
    args.add_argument("--seeds", type=int, default=3)
    args.add_argument("--depth", type=int, default=10)
    opts = args.parse_args()
    dataset = load_dataset(opts.dataset)
    full_qrels = dict(dataset.qrels)
    runs = systems(dataset, [default_base(), *opts.base])
    full = ordering(runs, full_qrels)
    fillers = {spec.split("=", 1)[0]: replay_judge(spec.split("=", 1)[1]).grades for spec in opts.filler}
    print(
        f"{len(runs)} systems on {len(dataset.queries)} queries of {dataset.name}: "
        + ", ".join(f"{n} {v:.3f}" for n, v in sorted(full.items(), key=lambda kv: -kv[1])),
        flush=True,
    )
    header = [
        "judgments kept",
        "holes filled in the top 10 (mean)",
        "no filling: tau / max drop",
        *(f"{name}: tau / max drop" for name in fillers),
    ]
    table = []
    for share in (int(s) for s in opts.keep.split(",")):
        results: dict[str, list[tuple[float, int]]] = {"none": [], **{n: [] for n in fillers}}
        filled_counts = []
        for seed in range(opts.seeds):
            pairs = sorted(full_qrels)
            kept_pairs = random.Random(seed).sample(pairs, round(share / 100 * len(pairs)))
            kept = {p: full_qrels[p] for p in kept_pairs}
            missing = sorted({p for run in runs.values() for p in holes(run, kept, opts.depth)})
            filled_counts.append(len(missing))
            results["none"].append(compare(full, ordering(runs, kept)))
            for name, grades in fillers.items():
                merged = {p: grades[p] for p in missing if p in grades} | kept
                results[name].append(compare(full, ordering(runs, merged)))
        cells = [f"{share}%", f"{np.mean(filled_counts):.0f}"]
        for name in results:
            taus, drops = zip(*results[name])
            cells.append(f"{np.mean(taus):.3f} / {np.mean(drops):.1f}")
        table.append(cells)
        print(cells, flush=True)
    print("\n".join(markdown_table(header, table)))


if __name__ == "__main__":
    main()
