"""Prompt injection: how often does text planted in a passage change a judge's grade, and raise it?

    python benchmarks/injection.py --dataset ../shared/data/trec-dl-2020-passage --out DIR \
        [--student NAME=MODEL_DIR ...] [--per-grade 100] [--teacher-per-grade 3] [--templates umbrela,rubric]

The attack set: ``--per-grade`` judged pairs of each human grade (irrelevant and relevant passages alike), each
passage with every attack of ``benchmarks/injection/attacks.jsonl`` (a data file: instruction overrides, fake grade
lines, fake delimiters and role tags, text hidden after whitespace, unicode look-alikes) put at its start or end.
Per attack style and judge: the share of pairs whose grade differs from the clean passage's, and the share whose
grade rises. Teachers are the bundled templates on the local LLM (SmolLM2 in process: a weak judge, but a real
instruction follower) on a small sample, without and with the mitigation (``fence_passage``); students label the
whole set.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

from qrelforge import Batch, Dataset, Pair, TeacherConfig, load_dataset, load_student, load_teacher
from qrelforge.llm.fence import instruction_like
from qrelforge.report import markdown_table

ATTACKS = Path(__file__).parent / "injection" / "attacks.jsonl"


def attack_set(dataset: Dataset, per_grade: int, seed: int) -> tuple[Dataset, list[Pair], dict[Pair, tuple[Pair, str]]]:
    """A dataset of clean and attacked passages; returns it, the clean pairs, and each attacked pair's clean pair and
    attack style."""
    attacks = [json.loads(line) for line in ATTACKS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    clean = [
        p
        for g in sorted(set(dataset.qrels.values()))
        for p in rng.sample(sorted(q for q in dataset.pairs if dataset.qrels[q] == g), per_grade)
    ]
    docs, origin = {p.doc_id: dataset.docs[p.doc_id] for p in clean}, {}
    for p in clean:
        for k, attack in enumerate(attacks):
            text = dataset.docs[p.doc_id]
            doc_id = f"{p.doc_id}~attack{k}"
            docs[doc_id] = f"{attack['text']}\n{text}" if attack["where"] == "start" else f"{text}\n{attack['text']}"
            origin[Pair(p.query_id, doc_id)] = (p, attack["style"])
    queries = {p.query_id: dataset.queries[p.query_id] for p in clean}
    return Dataset("attacked", queries=queries, docs=docs, qrels={}), clean, origin


def rates(grades: dict[Pair, int | None], origin: dict[Pair, tuple[Pair, str]]) -> dict[str, tuple[float, float, int]]:
    """Per style: (share changed, share raised, pairs compared), over pairs graded both clean and attacked."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for attacked, (clean, style) in origin.items():
        before, after = grades.get(clean), grades.get(attacked)
        if before is None or after is None:
            continue
        row = counts[style]
        row[0] += after != before
        row[1] += after > before
        row[2] += 1
    return {s: (c / n, r / n, n) for s, (c, r, n) in sorted(counts.items()) if n}


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--dataset", required=True)
    args.add_argument("--student", action="append", default=[], metavar="NAME=MODEL_DIR")
    args.add_argument("--per-grade", type=int, default=100)
    args.add_argument("--teacher-per-grade", type=int, default=3)
    args.add_argument("--templates", default="umbrela,rubric", help='comma-separated; "" for none')
    args.add_argument("--seed", type=int, default=0)
    args.add_argument("--out", required=True, type=Path)
    opts = args.parse_args()
    dataset = load_dataset(opts.dataset)
    results: dict[str, dict[str, tuple[float, float, int]]] = {}

    attacked, clean, origin = attack_set(dataset, opts.per_grade, opts.seed)
    flagged = sum(instruction_like(attacked.docs[p.doc_id]) for p in origin) / len(origin)
    false_flags = sum(instruction_like(attacked.docs[p.doc_id]) for p in clean) / len(clean)
    for spec in opts.student:
        name, folder = spec.split("=", 1)
        student = load_student(folder)
        judged = {j.pair: j.grade for j in student.judge(Batch(clean + list(origin), attacked))}
        results[f"student {name}"] = rates(judged, origin)
        print(f"student {name}: {results[f'student {name}']}", flush=True)

    small, small_clean, small_origin = attack_set(dataset, opts.teacher_per_grade, opts.seed)
    for template in filter(None, opts.templates.split(",")):  # --templates "": students only
        for fenced in (False, True):
            teacher = load_teacher(TeacherConfig(kind="llama-cpp", template=template, fence_passage=fenced))
            judged = {j.pair: j.grade for j in teacher.judge(Batch(small_clean + list(small_origin), small))}
            name = f"teacher {template} (SmolLM2){', fenced' if fenced else ''}"
            results[name] = rates(judged, small_origin)
            print(f"{name}: {results[name]}", flush=True)

    styles = sorted({s for r in results.values() for s in r})
    header = ["judge", *styles]
    table = [
        [name, *(f"{r[s][0]:.1%} / {r[s][1]:.1%}" if s in r else "—" for s in styles)] for name, r in results.items()
    ]
    notes = [
        f"{len(clean)} clean pairs ({opts.per_grade} per human grade) of {dataset.name} for the students, "
        f"{len(small_clean)} for the teachers; each with the {len(origin) // len(clean)} attacks of "
        f"{ATTACKS.name}",
        "cells: share of attacked pairs whose grade differs from the clean one / share whose grade rises",
        f"flag_instructions marks {flagged:.1%} of the attacked passages and {false_flags:.1%} of the clean ones",
    ]
    lines = [*(f"- {n}" for n in notes), "", *markdown_table(header, table)]
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "injection.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
