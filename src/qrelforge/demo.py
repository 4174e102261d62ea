"""Distill a teacher into a student on some queries and compare both with humans on the others.

``run_demo`` is the main job on bundled data: GPT-4o's labels of a TREC DL 2020 subset, a MiniLM student.

>>> from qrelforge import run_demo  # doctest: +SKIP
>>> rows = run_demo("/tmp/qrelforge-demo")  # trains for a few minutes on 2 CPU cores
"""
from __future__ import annotations

import random
from pathlib import Path

from .datasets import Dataset, bundled_path, load_dataset
from .evaluate.agreement import agreement
from .io.store import JudgmentStore
from .io.trec import write_qrels
from .judge.base import Judge
from .judge.replay import replay_judge
from .judge.student import load_student
from .labeling import label
from .records import graded
from .report import JudgeRow, print_table, write_report
from .train.config import TrainConfig
from .train.student import train_student
from .train.data import teacher_examples

DEMO_DATASET, DEMO_TEACHER = "dl20-demo", "teacher-gpt-4o-umbrela.txt"


def run_demo(out: str | Path, config: TrainConfig = TrainConfig(), progress: bool = True) -> list[JudgeRow]:
    """Distill GPT-4o's labels of the bundled TREC DL 2020 subset into MiniLM; report on held-out queries."""
    teacher = replay_judge(bundled_path(DEMO_DATASET) / DEMO_TEACHER)
    return distill_and_compare(load_dataset(DEMO_DATASET), teacher, "GPT-4o (UMBRELA, replayed)", out, config,
                               progress=progress)


def distill_and_compare(dataset: Dataset, teacher: Judge, teacher_name: str, out: str | Path,
                        config: TrainConfig = TrainConfig(), test_fraction: float = 1 / 3, seed: int = 2020,
                        progress: bool = True) -> list[JudgeRow]:
    """Split queries into train/test, train a student on the teacher's grades of the train queries, label the
    test pairs, and report teacher, student and humans side by side (files in ``out``, table on the terminal)."""
    out = Path(out)
    query_ids = sorted({p.query_id for p in dataset.qrels})
    random.Random(seed).shuffle(query_ids)
    n_test = round(test_fraction * len(query_ids))
    train_set, test_set = dataset.subset(query_ids[n_test:]), dataset.subset(query_ids[:n_test])

    trained = train_student(teacher_examples([train_set], teacher), out / "student", config, progress=progress)
    store = JudgmentStore(out / "judgments.jsonl")
    student = load_student(trained.model_dir, test_set)
    run = label(student, test_set.pairs, store, progress=progress)
    label(teacher, test_set.pairs, store, progress=False)
    student_grades = graded(store.judgments(student.fingerprint))
    teacher_grades = graded(store.judgments(teacher.fingerprint))
    write_qrels(out / "student-labels.txt", student_grades)

    rows = [JudgeRow(f"teacher {teacher_name} vs human", agreement(teacher_grades, test_set.qrels)),
            JudgeRow("student vs human", agreement(student_grades, test_set.qrels), run.pairs_per_second or None),
            JudgeRow("student vs teacher", agreement(student_grades, teacher_grades))]
    title = (f"qrelforge — {dataset.name}: {len(test_set.queries)} held-out queries, {len(test_set.pairs)} pairs, "
             f"human = the dataset's assessors")
    last = trained.losses[-20:]
    notes = [f"student: {Path(trained.model_dir)} trained on {trained.train_examples} teacher-labeled pairs of "
             f"{len(train_set.queries)} queries (less the validation queries) in {trained.seconds / 60:.1f} min "
             f"({trained.train_pairs_per_second:.1f} pairs/s); loss {trained.losses[0]:.3f} -> {sum(last) / len(last):.3f}",
             f"student labeling: {run.judged} pairs at {run.pairs_per_second:.1f} pairs/s ({run.reused} reused)"]
    print_table(rows, title)
    report = write_report(rows, out, title, notes)
    for note in notes:
        print(f"  {note}")
    print(f"report: {report} (and report.md)")
    return rows
