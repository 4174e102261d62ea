"""A teacher's speed and agreement on a random sample of judged pairs: requests/s, tokens/s, and agreement with
the collection's human assessors.

    python benchmarks/teacher_throughput.py --dataset ../shared/data/llmjudge-dev --pairs 200 --out /tmp/t
    python benchmarks/teacher_throughput.py ... --teacher teacher.yaml    # any teacher config (e.g. a server)

Without --teacher it runs the local llama-cpp teacher (SmolLM2-135M-Instruct in process, `make llm`).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from qrelforge import TeacherConfig, label_job, load_dataset, load_teacher, load_teacher_config, print_table
from qrelforge.judges.cost import total_usage


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--dataset", required=True)
    args.add_argument("--pairs", type=int, default=200, help="random judged pairs to grade")
    args.add_argument("--teacher", type=Path, help="teacher YAML (default: local SmolLM2 with the rubric template)")
    args.add_argument("--template", default="rubric", help="template of the default teacher")
    args.add_argument("--seed", type=int, default=0)
    args.add_argument("--out", required=True, type=Path)
    opts = args.parse_args()

    dataset = load_dataset(opts.dataset)
    pairs = sorted(random.Random(opts.seed).sample(dataset.pairs, min(opts.pairs, len(dataset.pairs))))
    config = (
        load_teacher_config(opts.teacher) if opts.teacher else TeacherConfig(kind="llama-cpp", template=opts.template)
    )
    teacher = load_teacher(config, pairs)
    labeled = label_job(teacher, pairs, dataset, opts.out / "labels.txt")
    run, judgments = labeled.run, labeled.judgments
    usage = total_usage(judgments)
    print(
        f"{teacher.fingerprint}: {run.judged} requests in {run.seconds:.1f} s ({run.reused} reused) -> "
        f"{run.pairs_per_second:.2f} requests/s, {run.tokens_per_second:,.0f} tokens/s "
        f"({run.usage.prompt_tokens / max(run.judged, 1):.0f} prompt tokens per request); "
        f"statuses {run.statuses}; all {len(judgments)} judgments: {usage}"
    )
    print_table(
        [labeled.row({p: dataset.qrels[p] for p in pairs})],
        f"{len(pairs)} random pairs of {dataset.name} vs its human qrels",
    )


if __name__ == "__main__":
    main()
