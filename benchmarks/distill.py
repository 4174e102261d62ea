"""Distill a replayed teacher's labels into a student on 2/3 of a collection's queries; compare student and
teacher with the human assessors on the other 1/3 (the same pairs for both).

    python benchmarks/distill.py --dataset ../shared/data/trec-dl-2020-passage \
        --teacher ../shared/data/trec-dl-2020-passage/judges/narabzad__gpt-4o_graded_dl20_32.txt --out /tmp/dl20
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qrelforge import TrainConfig, load_dataset, replay_judge
from qrelforge.demo import distill_and_compare


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--dataset", required=True)
    args.add_argument("--teacher", required=True, help="TREC label file of the teacher")
    args.add_argument("--teacher-name", default="GPT-4o (UMBRELA)")
    args.add_argument("--out", required=True, type=Path)
    args.add_argument("--student", default=TrainConfig.student, help="student kind")
    args.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    args.add_argument("--max-length", type=int, default=TrainConfig.max_length)
    args.add_argument("--seed", type=int, default=2020, help="seed of the train/test query split")
    opts = args.parse_args()
    distill_and_compare(
        load_dataset(opts.dataset),
        replay_judge(opts.teacher),
        opts.teacher_name,
        opts.out,
        TrainConfig(student=opts.student, epochs=opts.epochs, max_length=opts.max_length),
        seed=opts.seed,
    )


if __name__ == "__main__":
    main()
