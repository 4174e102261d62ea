"""Issue 23, by hand: the held-out student fine-tuned on the teacher's sample of the collection it labels, its grade
cuts set so that the labels outside the sample have the sample's teacher grade shares; agreement with the human
qrels, against the product's ordinal adaptation on the same sample.

    python benchmarks/loco.py --data ../shared/data --out /tmp/loco                # the leave-one-out students
    python benchmarks/adapt_finetune.py --data ../shared/data --loco /tmp/loco --out /tmp/adapt-ft --share 0.1

The sample is the product's (`draw_sample`: each query its share, stratified over the student's scores). The
fine-tune is `qrelforge train --base STUDENT --epochs 3 --val-fraction 0` on the sample's teacher grades; the cuts
use only the sample's teacher grades and the fine-tuned student's scores, never a label outside the sample.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from qrelforge import Pair, agreement, label_job, load_dataset, load_student, read_qrels, replay_judge
from qrelforge.labeling.adaptation import draw_sample, fit_adapter

TEACHERS = {"trec-dl-2020-passage": "judges/narabzad__gpt-4o_graded_dl20_32.txt"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--loco", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--held-out", default="trec-dl-2020-passage", choices=sorted(TEACHERS))
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    folder = args.data / args.held_out
    out = args.out / f"{args.held_out}-{args.share:g}-{args.seed}"
    out.mkdir(parents=True, exist_ok=True)
    dataset, teacher = load_dataset(folder), replay_judge(folder / TEACHERS[args.held_out])
    student_dir = args.loco / args.held_out / "student"
    student = load_student(student_dir)
    mine = label_job(student, dataset.pairs, dataset, args.loco / args.held_out / "student-labels.txt").judgments
    answered = [j for j in mine if j.probs is not None]
    sample = set(draw_sample(answered, student.scale, round(args.share * len(answered)), args.seed))
    result: dict = {"held_out": args.held_out, "share": args.share, "seed": args.seed, "sample": len(sample)}

    taught = out / "sample"  # the sample as a dataset folder: its texts, the teacher's grades as qrels
    taught.mkdir(exist_ok=True)
    queries, docs = sorted({p.query_id for p in sample}), sorted({p.doc_id for p in sample})
    (taught / "queries.tsv").write_text("".join(f"{q}\t{dataset.queries[q]}\n" for q in queries))
    (taught / "docs.jsonl").write_text("".join(json.dumps({"doc_id": d, "text": dataset.docs[d]}) + "\n" for d in docs))
    grades = "".join(f"{p.query_id} 0 {p.doc_id} {teacher.grades[p]}\n" for p in sorted(sample))
    (taught / "qrels.txt").write_text(grades)
    cli = [sys.executable, "-m", "qrelforge"]
    start = time.perf_counter()
    if not (out / "student").exists():
        subprocess.run([*cli, "train", "--dataset", str(taught), "--base", str(student_dir), "--epochs", "3",
                        "--val-fraction", "0", "--out", str(out / "student"), "--quiet"], check=True)  # fmt: skip
    result["train_minutes"] = round((time.perf_counter() - start) / 60, 1)
    start = time.perf_counter()
    labels = out / "labels.txt"
    subprocess.run([*cli, "label", "--judge", str(out / "student"), "--dataset", str(folder), "--out", str(labels),
                    "--quiet"], check=True)  # fmt: skip
    result["label_minutes"] = round((time.perf_counter() - start) / 60, 1)

    tuned = {p: np.array([row["probs"][str(g)] for g in student.scale]) for p, row in soft_rows(labels)}
    rest = sorted(p for p in tuned if p not in sample)
    shares = Counter(teacher.grades[p] for p in sample)
    bounds = np.cumsum([shares[g] / len(sample) for g in student.scale])[:-1]
    expected = np.array([tuned[p] @ np.asarray(student.scale) for p in rest])
    matched = np.asarray(student.scale)[np.searchsorted(np.quantile(expected, bounds), expected, side="right")]

    def scored(name: str, grades: dict[Pair, int]) -> None:
        merged = grades | {p: teacher.grades[p] for p in sample}
        found = agreement(merged, dataset.qrels)
        result[name] = {"kappa": round(found.cohen_kappa or 0, 4), "alpha": round(found.krippendorff_alpha or 0, 4)}

    scored("fine-tuned, its own cuts", {p: g for p, g in read_qrels(labels).items() if p not in sample})
    scored("fine-tuned, cuts matched to the sample's teacher shares", dict(zip(rest, map(int, matched))))
    by_pair = {j.pair: j for j in answered}
    fitted = sorted(sample)
    adapter = fit_adapter(
        np.array([by_pair[p].probs for p in fitted]), [p.query_id for p in fitted],
        np.array([teacher.grades[p] for p in fitted]), student.scale, "ordinal", 2.0,
        student.card.thresholds if student.card else None,
    )  # fmt: skip
    others = [p for p in by_pair if p not in sample]
    ordinal = adapter.grades(np.array([by_pair[p].probs for p in others]), [p.query_id for p in others])
    scored("the product's ordinal adaptation", dict(zip(others, map(int, ordinal))))
    (out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


def soft_rows(labels: Path) -> list[tuple[Pair, dict]]:
    """The label run's grade probabilities (``LABELS.soft.jsonl``)."""
    rows = [json.loads(line) for line in labels.with_name(labels.name + ".soft.jsonl").read_text().splitlines()]
    return [(Pair(row["qid"], row["docid"]), row) for row in rows]


if __name__ == "__main__":
    main()
