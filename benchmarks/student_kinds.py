"""Student kinds side by side on the same teacher labels and the same wall-clock training budget.

    python benchmarks/student_kinds.py --dataset ../shared/data/trec-dl-2020-passage \
        --teacher ../shared/data/trec-dl-2020-passage/judges/narabzad__gpt-4o_graded_dl20_32.txt \
        --causal-base GEMMA_DIR --minutes 9 --test-pairs 600 --out DIR

The queries are split as in benchmarks/distill.py (seed 2020, a third held out). Each kind trains on the teacher's
grades of the training queries for ``--minutes`` (the learning-rate schedule follows the clock), then labels the
same random sample of held-out pairs in each of ``--precisions``; agreement is with the human assessors. GEMMA_DIR
comes from `qrelforge convert-gguf --out GEMMA_DIR`. ``--label-only`` relabels the students an earlier run left in
DIR.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from qrelforge import (
    EngineSettings,
    TrainConfig,
    judge_row,
    label_job,
    load_dataset,
    load_student,
    print_table,
    replay_judge,
    split_queries,
    teacher_examples,
    train_student,
)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--dataset", required=True)
    args.add_argument("--teacher", required=True, help="TREC label file of the teacher")
    args.add_argument("--causal-base", help="Hugging Face causal LM folder; without it the causal-lm kind is skipped")
    args.add_argument("--kinds", default="cross-encoder,bi-encoder,causal-lm")
    args.add_argument("--minutes", type=float, default=9.0, help="training budget per kind")
    args.add_argument("--causal-lr", type=float, default=5e-4, help="learning rate of the LoRA adapters")
    args.add_argument("--test-pairs", type=int, default=600)
    args.add_argument("--seed", type=int, default=2020)
    args.add_argument("--precisions", default="auto", help="comma-separated labeling precisions")
    args.add_argument("--label-only", action="store_true", help="relabel the students already trained in --out")
    args.add_argument("--out", required=True, type=Path)
    opts = args.parse_args()

    dataset, teacher = load_dataset(opts.dataset), replay_judge(opts.teacher)
    train_ids, test_ids = split_queries((p.query_id for p in dataset.qrels), 1 / 3, opts.seed)
    train_set, test_set = dataset.subset(train_ids), dataset.subset(test_ids)
    pairs = random.Random(opts.seed).sample(test_set.pairs, min(opts.test_pairs, len(test_set.pairs)))
    human = {p: dataset.qrels[p] for p in pairs}
    examples = teacher_examples([train_set], teacher)
    replayed = label_job(teacher, pairs, test_set, opts.out / "teacher-labels.txt", progress=False)
    rows = [judge_row("teacher (replayed labels)", replayed.grades, human)]
    notes = []
    for kind in opts.kinds.split(","):
        if kind == "causal-lm" and not opts.causal_base:
            continue
        config = TrainConfig(
            student=kind,
            max_minutes=opts.minutes,
            epochs=50,  # the clock ends training
            **(
                {"base": opts.causal_base, "learning_rate": opts.causal_lr, "max_length": 384}
                if kind == "causal-lm"
                else {}
            ),
        )
        if not opts.label_only:
            trained = train_student(examples, opts.out / kind, config)
            notes.append(
                f"{kind}: {len(trained.losses)} batches, {trained.train_pairs_per_second * trained.seconds:.0f}"
                f" pairs seen in {trained.seconds / 60:.1f} min ({trained.train_pairs_per_second:.2f} pairs/s); "
                f"loss {trained.losses[0]:.3f} -> {sum(trained.losses[-10:]) / len(trained.losses[-10:]):.3f}; "
                f"validation kappa vs teacher {trained.validation.cohen_kappa}"
            )
            print(notes[-1], flush=True)
        for precision in opts.precisions.split(","):
            student = load_student(opts.out / kind, EngineSettings(precision=precision))
            labeled = label_job(student, pairs, test_set, opts.out / f"{kind}-{student.format}-labels.txt")
            rows.append(labeled.row(human, f"{kind} ({student.format})"))
    print_table(rows, f"{len(pairs)} held-out pairs of {len(test_set.queries)} {dataset.name} queries vs NIST")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
