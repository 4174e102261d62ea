"""Distill a teacher into a student on some queries and compare both with humans on the others.

``run_demo`` is the main job on bundled data: GPT-4o's labels of a TREC DL 2020 subset, a MiniLM student.

>>> from qrelforge import run_demo
>>> rows = run_demo("/tmp/qrelforge-demo")  # doctest: +SKIP
>>> # (skipped: it trains for a few minutes on 2 CPU cores; tests/test_real_model.py runs it)
"""

from __future__ import annotations

from pathlib import Path

from .datasets import Dataset, bundled_path, load_dataset, split_queries
from .evaluate.agreement import JudgeRow, judge_row
from .judges.base import Judge
from .judges.replay import replay_judge
from .labeling.job import label_job
from .report import print_table, write_report
from .students.student import load_student
from .train.config import TrainConfig
from .train.data import teacher_examples
from .train.loop import train_student

DEMO_DATASET, DEMO_TEACHER = "dl20-demo", "teacher-gpt-4o-umbrela.txt"


def run_demo(out: str | Path, config: TrainConfig = TrainConfig(), progress: bool = True) -> list[JudgeRow]:
    """Distill GPT-4o's labels of the bundled TREC DL 2020 subset into MiniLM; report on held-out queries."""
    teacher = replay_judge(bundled_path(DEMO_DATASET) / DEMO_TEACHER)
    return distill_and_compare(
        load_dataset(DEMO_DATASET), teacher, "GPT-4o (UMBRELA, replayed)", out, config, progress=progress
    )


def distill_and_compare(
    dataset: Dataset,
    teacher: Judge,
    teacher_name: str,
    out: str | Path,
    config: TrainConfig = TrainConfig(),
    test_fraction: float = 1 / 3,
    seed: int = 2020,
    progress: bool = True,
) -> list[JudgeRow]:
    """Split queries into train/test, train a student on the teacher's grades of the train queries, label the
    test pairs, and report teacher, student and humans side by side (files in ``out``, table on the terminal)."""
    out = Path(out)
    train_ids, test_ids = split_queries((p.query_id for p in dataset.qrels), test_fraction, seed)
    train_set, test_set = dataset.subset(train_ids), dataset.subset(test_ids)

    trained = train_student(teacher_examples([train_set], teacher), out / "student", config, progress=progress)
    student = label_job(
        load_student(trained.model_dir), test_set.pairs, test_set, out / "student-labels.txt", progress=progress
    )
    replayed = label_job(teacher, test_set.pairs, test_set, out / "teacher-labels.txt", progress=False)

    rows = [
        judge_row(f"teacher {teacher_name} vs human", replayed.grades, test_set.qrels),
        student.row(test_set.qrels, "student vs human"),
        judge_row("student vs teacher", student.grades, replayed.grades),
    ]
    title = (
        f"qrelforge — {dataset.name}: {len(test_set.queries)} held-out queries, {len(test_set.pairs)} pairs, "
        f"human = the dataset's assessors"
    )
    last = trained.losses[-20:]
    run = student.run
    notes = [
        f"student: {Path(trained.model_dir)} trained on {trained.train_examples} teacher-labeled pairs of "
        f"{len(train_set.queries)} queries (less the validation queries) in {trained.seconds / 60:.1f} min "
        f"({trained.train_pairs_per_second:.1f} pairs/s); loss {trained.losses[0]:.3f} -> {sum(last) / len(last):.3f}",
        f"student labeling: {run.judged} pairs at {run.pairs_per_second:.1f} pairs/s ({run.reused} reused)",
    ]
    print_table(rows, title)
    report = write_report(rows, out, title, notes)
    for note in notes:
        print(f"  {note}")
    print(f"report: {report} (and report.md)")
    return rows
