"""The routing curve: agreement with the human qrels against the share of pairs a cascade sends to the teacher.

    python benchmarks/routing.py --student MODEL_DIR --dataset ../shared/data/trec-dl-2020-passage \
        --teacher ../shared/data/trec-dl-2020-passage/judges/narabzad__gpt-4o_graded_dl20_32.txt --out DIR

The student (trained elsewhere: on other collections, or on other queries of this one with ``--queries`` naming the
held-out ones) labels every pair once; then, for each routing score and a random order with the same budget, the
least sure pairs up to each share get the replayed teacher's grade (``labeling/route.py``'s own selection). Cost is
GPT-4o's: the UMBRELA prompt's worst-case tokens at $2.50 / $10 per million tokens. Prints the table, writes
``routing.md`` and ``routing.png``, and the smallest share that reaches 95% of the teacher's kappa.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from qrelforge import (
    Batch,
    Budget,
    Prices,
    TeacherConfig,
    agreement,
    graded,
    label_job,
    load_dataset,
    load_student,
    load_teacher,
    replay_judge,
)
from qrelforge.labeling.config import ROUTING_SCORES
from qrelforge.labeling.route import choose, uncertainty
from qrelforge.report import markdown_table

SHARES = (0, 5, 10, 20, 30, 50, 60, 70, 80, 90, 100)
GPT4O = Prices(input_per_million=2.5, output_per_million=10.0)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--student", required=True, type=Path)
    args.add_argument("--dataset", required=True)
    args.add_argument("--teacher", required=True, help="the teacher's label file, replayed")
    args.add_argument("--queries", type=Path, help="a file of held-out query ids (default: every query)")
    args.add_argument("--seed", type=int, default=0, help="of the random order")
    args.add_argument("--out", required=True, type=Path)
    opts = args.parse_args()

    dataset = load_dataset(opts.dataset)
    if opts.queries:
        dataset = dataset.subset(opts.queries.read_text().split())
    pairs, human = dataset.pairs, dataset.qrels
    student = load_student(opts.student)
    labeled = label_job(student, pairs, dataset, opts.out / "student-labels.txt")
    mine = {j.pair: j for j in labeled.judgments}
    teacher = replay_judge(opts.teacher)
    theirs = graded(teacher.judge(Batch(pairs)))
    gpt4o = load_teacher(TeacherConfig(model="gpt-4o", prices=GPT4O))  # prices its prompts; asks nothing
    cost = {p: GPT4O.cost(gpt4o.worst_case(Batch([p], dataset))) for p in pairs}
    alone = agreement(theirs, human)
    probs = np.array([mine[p].probs for p in pairs])
    orders = {
        score: np.array(uncertainty(probs, student.scale, student.card.thresholds, score)) for score in ROUTING_SCORES
    }
    orders["random"] = np.random.default_rng(opts.seed).random(len(pairs))

    header = ["routing", *(f"{s}%" for s in SHARES)]
    kappas, alphas, table = {}, {}, []
    for name, scores in orders.items():
        kappas[name], alphas[name] = [], []
        for share in SHARES:
            routed = set(choose(pairs, list(scores), Budget(share=share / 100), teacher, dataset))
            merged = {p: theirs.get(p, mine[p].grade) if p in routed else mine[p].grade for p in pairs}
            result = agreement(merged, human)
            kappas[name].append(result.cohen_kappa)
            alphas[name].append(result.krippendorff_alpha)
        table.append([name, *(f"{k:.3f} / {a:.3f}" for k, a in zip(kappas[name], alphas[name]))])
    dollars = [sum(cost.values()) * s / 100 for s in SHARES]
    table.append(["GPT-4o cost (US$, worst case)", *(f"{d:.2f}" for d in dollars)])
    target = 0.95 * alone.cohen_kappa
    reached = {name: next((s for s, k in zip(SHARES, ks) if k >= target), None) for name, ks in kappas.items()}
    notes = [
        f"{len(pairs)} pairs of {len(dataset.queries)} queries of {dataset.name}; student {student.fingerprint}",
        f"the teacher alone ({Path(opts.teacher).name}): kappa {alone.cohen_kappa:.4f}, alpha "
        f"{alone.krippendorff_alpha:.4f}; 95% of its kappa is {target:.4f}",
        "cells: kappa / alpha with the human qrels after routing that share of the pairs to the teacher",
        "smallest share reaching 95% of the teacher's kappa: "
        + ", ".join(f"{name} {f'{s}%' if s is not None else 'not reached'}" for name, s in reached.items()),
    ]
    lines = [*(f"- {n}" for n in notes), "", *markdown_table(header, table)]
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "routing.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    plot(kappas, alone.cohen_kappa, dollars, opts.out / "routing.png")


def plot(kappas: dict[str, list[float]], teacher: float, dollars: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, values in kappas.items():
        ax.plot(SHARES, values, marker="o", label=name, linestyle="--" if name == "random" else "-")
    ax.axhline(teacher, color="black", linestyle=":", label="teacher alone")
    ax.axhline(0.95 * teacher, color="grey", linestyle=":", label="95% of the teacher")
    ax.set(
        xlabel="share of pairs routed to the teacher (%)",
        ylabel="Cohen's kappa with NIST",
        title="routing the student's least sure pairs",
    )
    top = ax.secondary_xaxis("top", functions=(lambda s: s * dollars[-1] / 100, lambda d: d * 100 / dollars[-1]))
    top.set_xlabel("GPT-4o cost (US$, worst case)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
