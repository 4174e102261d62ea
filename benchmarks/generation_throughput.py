"""Queries written per second by an LLM from random seed documents, and what the filters keep.

    python benchmarks/generation_throughput.py --dataset ../shared/data/trec-dl-2020-passage --seeds 50
    python benchmarks/generation_throughput.py ... --llm writer.yaml     # any teacher-style LLM config

Without --llm it runs SmolLM2-135M-Instruct in process (`make llm`), greedy, 24 tokens per answer.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from qrelforge import TeacherConfig, load_dataset, load_teacher_config
from qrelforge.llm.text import load_llm
from qrelforge.synthetic.generate import filter_queries, generate_queries, language_of, sample_seeds
from qrelforge.synthetic.index import BM25Index


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--dataset", required=True)
    args.add_argument("--seeds", type=int, default=50)
    args.add_argument("--styles", nargs="+", default=["question", "keywords"])
    args.add_argument("--llm", type=Path, help="LLM YAML (teacher config keys); default: local SmolLM2")
    opts = args.parse_args()

    docs = load_dataset(opts.dataset).docs
    seeds = sample_seeds(sorted(docs), opts.seeds, seed=0)
    llm = load_llm(
        load_teacher_config(opts.llm) if opts.llm else TeacherConfig(kind="llama-cpp", temperature=0.0, max_tokens=24)
    )
    start = time.perf_counter()
    queries, counts = generate_queries(llm, docs, seeds, opts.styles)
    seconds = time.perf_counter() - start
    kept, dropped = filter_queries(queries, BM25Index.build(docs), language=language_of([docs[s] for s in seeds]))
    asked = len(seeds) * len(opts.styles)
    print(
        f"{llm.fingerprint}: {asked} requests in {seconds:.1f} s -> {asked / seconds:.2f} queries/s; "
        f"{counts}; filters dropped {dropped}; kept {len(kept)} of {len(queries)}"
    )
    for query in kept[:5]:
        print(f"  {query.style}: {query.text}")


if __name__ == "__main__":
    main()
