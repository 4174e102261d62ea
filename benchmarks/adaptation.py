"""The adaptation curve (issue 23): on each held-out collection, agreement with its human qrels against the share of
pairs the teacher grades, for random routing, `cut` routing, adaptation, and adaptation plus routing (half the share
each); the methods and sample designs compared at 10%; and whether the estimate's interval covers the agreement with
the teacher measured on the pairs the student labeled.

    python benchmarks/loco.py --data ../shared/data --out /tmp/loco                # the leave-one-out students
    python benchmarks/adaptation.py --data ../shared/data --loco /tmp/loco --out /tmp/adapt [--draws 3]

Teachers: GPT-4o's labels on DL20, the best LLM judge file on DL19, and on llmjudge-dev (no LLM labels) its human
qrels as the assessor who grades the sample. Nothing is tuned on the pairs outside the sample.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

from qrelforge import (
    AdaptConfig,
    Budget,
    LookupJudge,
    agreement,
    human_judge,
    label_job,
    load_dataset,
    load_student,
    replay_judge,
)
from qrelforge.labeling.adapt import Route, adapt_job
from qrelforge.labeling.route import choose, uncertainty

SHARES = (0, 5, 10, 20, 30)
TEACHERS = {
    "trec-dl-2020-passage": "judges/narabzad__gpt-4o_graded_dl20_32.txt",
    "trec-dl-2019-passage": "judges/farzi__dl2019_test_4prompts_flant5large.txt",
    "llmjudge-dev": "human",
}


def scores(labels: dict, qrels: dict) -> tuple[float, float]:
    found = agreement(labels, qrels)
    return found.cohen_kappa or 0.0, found.krippendorff_alpha or 0.0


def run(data: Path, loco: Path, out: Path, held_out: str, draws: int, config: AdaptConfig) -> dict:
    dataset = load_dataset(data / held_out)
    spec = TEACHERS[held_out]
    teacher: LookupJudge = human_judge(dataset) if spec == "human" else replay_judge(data / held_out / spec)
    student = load_student(loco / held_out / "student")
    source = loco / held_out / "student-labels.txt"
    mine = {j.pair: j for j in label_job(student, dataset.pairs, dataset, source).judgments}
    pairs = sorted(mine)
    qrels = dataset.qrels
    alone = {p: j.grade for p, j in mine.items()}
    taught = {p: teacher.grades[p] for p in pairs if p in teacher.grades}
    cut = uncertainty([mine[p].probs for p in pairs], student.scale, student.card.thresholds, "cut")
    curve: dict[str, list] = {"random routing": [], "cut routing": [], "adaptation": [], "adaptation + routing": []}
    coverage, estimates = [], []

    def adapted(name: str, share: float, draw: int, routed_share: float = 0.0) -> dict:
        folder = out / held_out / f"{name}-{share}-{draw}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(source.with_name(source.name + ".judgments.jsonl"), folder / "labels.txt.judgments.jsonl")
        route = Route(teacher, Budget(share=routed_share), "cut") if routed_share else None
        job = adapt_job(
            student,
            teacher,
            pairs,
            dataset,
            folder / "labels.txt",
            Budget(share=share),
            AdaptConfig(**(vars(config) | {"adapt_seed": config.adapt_seed + draw})),
            route,
            progress=False,
        )
        if not route:  # the estimate against the agreement it estimates: the teacher on the pairs the student labeled
            sample = set(job.sample)
            rest = {p: g for p, g in job.labels.items() if p not in sample and p in taught}
            real = agreement(rest, {p: taught[p] for p in rest})
            for stat, value in (("kappa", real.cohen_kappa), ("alpha", real.krippendorff_alpha)):
                low, high = job.estimate.intervals[stat]
                coverage.append(low <= value <= high)
                estimates.append(
                    {
                        "share": share,
                        "draw": draw,
                        "statistic": stat,
                        "estimate": job.estimate.values[stat],
                        "interval": [low, high],
                        "measured": value,
                    }
                )
        return job.labels

    for share in SHARES:
        rows = {name: [] for name in curve}
        for draw in range(draws if share else 1):
            rng = random.Random(draw)
            count = round(share / 100 * len(pairs))
            picked = set(rng.sample(pairs, count))
            rows["random routing"].append(
                scores({p: taught.get(p, alone[p]) if p in picked else alone[p] for p in pairs}, qrels)
            )
            if draw == 0:
                routed = set(choose(pairs, cut, Budget(share=share / 100), teacher, dataset))
                rows["cut routing"].append(
                    scores({p: taught.get(p, alone[p]) if p in routed else alone[p] for p in pairs}, qrels)
                )
            if share:
                rows["adaptation"].append(scores(adapted("adapt", share / 100, draw), qrels))
                rows["adaptation + routing"].append(scores(adapted("both", share / 200, draw, share / 200), qrels))
            else:
                rows["adaptation"].append(scores(alone, qrels))
                rows["adaptation + routing"].append(scores(alone, qrels))
        for name, found in rows.items():
            curve[name].append([sum(k for k, _ in found) / len(found), sum(a for _, a in found) / len(found)])
    methods = {}
    for method in ("none", "cuts", "level", "ordinal"):
        for design in ("stratified", "random"):
            folder = out / held_out / f"method-{method}-{design}"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(source.with_name(source.name + ".judgments.jsonl"), folder / "labels.txt.judgments.jsonl")
            job = adapt_job(
                student,
                teacher,
                pairs,
                dataset,
                folder / "labels.txt",
                Budget(share=0.10),
                AdaptConfig(**(vars(config) | {"adapt_method": method, "adapt_sample": design})),
                progress=False,
            )
            methods[f"{method}, {design}"] = scores(job.labels, qrels)
    return {
        "held_out": held_out,
        "teacher": teacher.fingerprint,
        "teacher_vs_humans": scores(taught, qrels),
        "student_vs_humans": scores(alone, qrels),
        "shares": SHARES,
        "curve": curve,
        "methods_at_10": methods,
        "coverage": sum(coverage) / len(coverage) if coverage else None,
        "estimates": estimates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--loco", type=Path, required=True, help="the --out of benchmarks/loco.py")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--held-out", nargs="*", default=list(TEACHERS))
    parser.add_argument("--draws", type=int, default=3, help="random draws of each sample")
    parser.add_argument("--method", default="ordinal", help="the curve's adaptation (finetune: see adapt_finetune.py)")
    args = parser.parse_args()
    config = AdaptConfig(adapt_method=args.method)
    for held_out in args.held_out:
        start = time.perf_counter()
        result = run(args.data, args.loco, args.out, held_out, args.draws, config)
        result["minutes"] = round((time.perf_counter() - start) / 60, 1)
        (args.out / f"{held_out}.json").write_text(json.dumps(result, indent=1))
        print(f"\n## {held_out} (teacher {result['teacher']}; kappa / alpha with the human qrels)")
        print(f"teacher alone {result['teacher_vs_humans']}, student alone {result['student_vs_humans']}")
        print("| teacher's share | " + " | ".join(f"{s}%" for s in SHARES) + " |")
        print("|---|" + "---|" * len(SHARES))
        for name, points in result["curve"].items():
            print(f"| {name} | " + " | ".join(f"{k:.3f} / {a:.3f}" for k, a in points) + " |")
        print("methods at 10%: " + "; ".join(f"{m} {k:.3f} / {a:.3f}" for m, (k, a) in result["methods_at_10"].items()))
        print(
            f"interval covers the measured agreement with the teacher: {result['coverage']:.0%}; "
            f"{result['minutes']} min"
        )


if __name__ == "__main__":
    main()
