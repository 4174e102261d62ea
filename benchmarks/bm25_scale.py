"""BM25 at scale: indexing, save/load and candidate-mining time and peak memory on synthetic passages.

    python benchmarks/bm25_scale.py --docs 100000 1000000 --queries 1000

Each size runs in its own process so that its peak resident memory (ru_maxrss) is its own. Passages are 60
words drawn from a Zipf-distributed 50k-word vocabulary (roughly MS MARCO passage length); queries are 4 words of
a random passage.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def one_size(docs: int, queries: int) -> dict[str, float]:
    import numpy as np

    from qrelforge.synthetic.index import BM25Index
    from qrelforge.synthetic.mine import MineConfig, mine_candidates

    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}" for i in range(50_000)])
    ranks = np.minimum(rng.zipf(1.2, size=(docs, 60)), 50_000) - 1
    start = time.perf_counter()
    corpus = {f"d{i}": " ".join(vocab[row]) for i, row in enumerate(ranks)}
    made = time.perf_counter() - start
    start = time.perf_counter()
    index = BM25Index.build(corpus)  # IndexConfig(): English stemming and stopwords
    built = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        index.save(f"{folder}/ix")
        saved = time.perf_counter() - start
        start = time.perf_counter()
        index = BM25Index.load(f"{folder}/ix")
        loaded = time.perf_counter() - start
    picks = rng.integers(0, docs, size=queries)
    texts = {f"q{i}": " ".join(corpus[f"d{d}"].split()[:4]) for i, d in enumerate(picks)}
    seeds = {f"q{i}": f"d{d}" for i, d in enumerate(picks)}
    start = time.perf_counter()
    bands = ((1, 10, 4), (11, 50, 4), (51, 200, 4))  # as measured in RESULTS.md (the pipeline's default takes 3)
    candidates = mine_candidates(texts, seeds, index, MineConfig(bands=bands, random=2))
    mined = time.perf_counter() - start
    return {
        "docs": docs,
        "queries": queries,
        "make_text_s": round(made, 1),
        "index_s": round(built, 1),
        "save_s": round(saved, 1),
        "load_s": round(loaded, 1),
        "mine_s": round(mined, 1),
        "queries_per_s": round(queries / mined, 1),
        "candidates": len(candidates),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--docs", type=int, nargs="+", default=[100_000, 1_000_000])
    args.add_argument("--queries", type=int, default=1000)
    args.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    opts = args.parse_args()
    if opts.one:
        print(json.dumps(one_size(opts.docs[0], opts.queries)))
        return
    for size in opts.docs:
        out = subprocess.run(
            [sys.executable, __file__, "--one", "--docs", str(size), "--queries", str(opts.queries)],
            capture_output=True,
            text=True,
            check=True,
        )
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
