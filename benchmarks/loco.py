"""Leave-one-collection-out: train a student on two collections, measure it against the humans of the third.

    python benchmarks/loco.py --data ../shared/data --out /tmp/loco [--held-out trec-dl-2020-passage ...]
    python benchmarks/loco.py --data ../shared/data --out /tmp/loco --distill   # GPT-4o's DL20 labels teach
    python benchmarks/loco.py ... --student cross-encoder --epochs 2 --lr 5e-5       # the foundation's baseline
    python benchmarks/loco.py ... --base EMBEDDINGGEMMA_DIR --train-layers 0         # any TrainConfig field

Without --distill the human qrels of the two training collections teach. With --distill the student learns only
from GPT-4o's (UMBRELA) labels of all DL20 pairs and is measured on DL19 and llmjudge-dev. Each held-out row comes
with the best LLM judge file of that collection's judges/ folder on the same pairs (when it has one), as reference.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from qrelforge import (
    InputFormatError,
    JudgeRow,
    TrainConfig,
    judge_row,
    label_job,
    load_dataset,
    load_student,
    print_table,
    read_qrels,
    replay_judge,
    teacher_examples,
    train_student,
    write_report,
)
from qrelforge.cli.flags import add_config_flags, config_from_args

COLLECTIONS = ("llmjudge-dev", "trec-dl-2019-passage", "trec-dl-2020-passage")
GPT4O_DL20 = "trec-dl-2020-passage/judges/narabzad__gpt-4o_graded_dl20_32.txt"


def best_llm_judge(folder: Path, qrels: dict) -> JudgeRow | None:
    """The judge file in ``folder/judges`` with the highest kappa among those covering at least 95% of the pairs."""
    rows = []
    for path in sorted((folder / "judges").glob("*.txt")):
        try:
            labels = read_qrels(path)
        except InputFormatError as exc:
            print(f"skipped judge file: {exc}")
            continue
        if len(labels.keys() & qrels.keys()) >= 0.95 * len(qrels):
            rows.append(judge_row(f"best LLM judge: {path.stem}", labels, qrels))
    return max(rows, key=lambda r: r.agreement.cohen_kappa or -1, default=None)


def train(
    data: Path, train_names: list[str], teacher_file: Path | None, config: TrainConfig, out: Path
) -> tuple[Path, str]:
    """Train a student on the named collections; returns its folder and a label saying what taught it, how long."""
    teacher = replay_judge(teacher_file) if teacher_file else None
    start = time.perf_counter()
    trained = train_student(teacher_examples([load_dataset(data / n) for n in train_names], teacher), out, config)
    taught_by = "GPT-4o DL20 labels" if teacher_file else "human qrels of " + " + ".join(train_names)
    minutes = (time.perf_counter() - start) / 60
    return trained.model_dir, f"{config.student} student ({taught_by}; {minutes:.0f} min training)"


def evaluate_on(data: Path, model_dir: Path, name: str, held_out: str, out: Path) -> list[JudgeRow]:
    """Label every judged pair of the held-out collection; agreement with its humans, and the best LLM judge's."""
    test = load_dataset(data / held_out)
    student = load_student(model_dir)
    rows = [label_job(student, test.pairs, test, out / "student-labels.txt").row(test.qrels, name)]
    reference = best_llm_judge(data / held_out, test.qrels)
    rows += [reference] if reference else []
    title = f"held out: {held_out} (vs its human qrels)"
    print_table(rows, title)
    for row in rows:
        print(f"  {row.judge}: predicted {row.agreement.label_histogram}, human {row.agreement.qrels_histogram}")
    write_report(rows, out, title)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--held-out", nargs="*", help="collections to hold out (default: each in turn)")
    parser.add_argument("--distill", action="store_true", help="teach with GPT-4o's DL20 labels instead of humans")
    add_config_flags(parser.add_argument_group("the recipe (TrainConfig)"), TrainConfig)
    args = parser.parse_args()
    config = config_from_args(TrainConfig, args)
    if args.distill:
        model, name = train(
            args.data, ["trec-dl-2020-passage"], args.data / GPT4O_DL20, config, args.out / "distill-student"
        )
        for held_out in args.held_out or [c for c in COLLECTIONS if c != "trec-dl-2020-passage"]:
            evaluate_on(args.data, model, name, held_out, args.out / f"distill-{held_out}")
        return
    for held_out in args.held_out or COLLECTIONS:
        model, name = train(
            args.data, [c for c in COLLECTIONS if c != held_out], None, config, args.out / held_out / "student"
        )
        evaluate_on(args.data, model, name, held_out, args.out / held_out)


if __name__ == "__main__":
    main()
