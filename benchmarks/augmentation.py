"""Does augmenting a small human-labeled set with student labels make a better ranker?

    python benchmarks/augmentation.py --train ../shared/data/trec-dl-2019-passage \
        --eval ../shared/data/trec-dl-2020-passage --human-queries 8 --steps 400 --out DIR

Design (fair by construction):
- Humans label only ``--human-queries`` random queries of the training collection (all their judged pairs).
- A student (the default recipe: bi-encoder on MiniLM) is trained on those human labels alone.
- The pool is every judged pair of the *other* training queries; their human labels are hidden, and the student
  labels the pool (its agreement with the hidden humans is reported).
- Training sets: ``human`` (the few human labels), ``student`` (the pool's student labels), ``both`` (human +
  student), and ``human-all`` (every training query's human labels: what full human labeling would give). With
  ``--teacher``: ``teacher`` and ``human+teacher`` (its labels of the pool); with ``--adapt-budget`` too,
  ``adapted`` and ``human+adapted`` (the student adapted to the teacher's grades of a sample of the pool).
- Each set trains the same ranker with the same steps, batch, learning rate and seed: a MiniLM bi-encoder (the
  paper's kind) or cross-encoder, and a LightGBM LambdaMART over BM25 score and lengths (the cheap baseline).
- Every ranker reranks the judged docs of every query of the evaluation collection; nDCG@10, MAP, MRR@10 against
  its human qrels, with paired tests against ``human``. References without training labels: BM25, and MiniLM's
  own cosine (the bi-encoder before fine-tuning).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qrelforge import (
    Batch,
    Budget,
    Judgment,
    TrainConfig,
    adapt_job,
    agreement,
    graded,
    human_judge,
    label_job,
    load_dataset,
    load_student,
    replay_judge,
    split_queries,
    teacher_examples,
    train_student,
)
from qrelforge.evaluate.ranking import mean_with_interval, per_query
from qrelforge.rank.augment import MIXES, training_labels, write_training_labels
from qrelforge.rank.config import RankerConfig
from qrelforge.rank.experiment import judged_candidates, rank_eval, report_table, write_ranking_report
from qrelforge.students.base import expected_grade
from qrelforge.students.bi_encoder import BiEncoder
from qrelforge.students.encoders import default_base
from qrelforge.students.engine import predict_probs
from qrelforge.synthetic.index import BM25Index


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--train", required=True, help="training collection (human qrels are mostly hidden)")
    args.add_argument("--eval", required=True, help="evaluation collection (human qrels)")
    args.add_argument("--human-queries", type=int, default=8)
    args.add_argument("--steps", type=int, default=400, help="optimizer steps of every neural ranker")
    args.add_argument("--rounds", type=int, default=300, help="boosting rounds of every LightGBM ranker")
    args.add_argument("--rankers", default="bi-encoder,lightgbm")
    args.add_argument(
        "--teacher",
        help="an LLM judge's label file for the training collection: adds the sets "
        "'teacher' and 'human+teacher' (its labels of the same pool)",
    )
    args.add_argument(
        "--adapt-budget",
        help="with --teacher: the student also adapts to the teacher's grades of this share of the pool (10%%) and "
        "labels the rest, adding the sets 'adapted' and 'human+adapted' (the sample keeps the teacher's grades)",
    )
    args.add_argument("--sets", help="comma-separated training sets to rank with (default: all)")
    args.add_argument("--seed", type=int, default=2019)
    args.add_argument("--out", required=True, type=Path)
    opts = args.parse_args()

    collection, evaluation = load_dataset(opts.train), load_dataset(opts.eval)
    rest_ids, human_ids = split_queries(collection.queries, opts.human_queries / len(collection.queries), opts.seed)
    humans, rest = collection.subset(human_ids), collection.subset(rest_ids)
    student_dir = opts.out / "student"
    if not (student_dir / "qrelforge.json").is_file():
        train_student(teacher_examples([humans]), student_dir, TrainConfig(seed=opts.seed))
    student = load_student(student_dir)
    pool = rest.pairs
    labeled = label_job(student, pool, collection, opts.out / "pool-labels.txt")
    judgments = labeled.judgments
    pool_agreement = labeled.row(rest.qrels).agreement
    human = human_judge(humans).fingerprint
    sets = {mix: training_labels(humans.qrels, human, judgments, student.scale, mix) for mix in MIXES}
    sets["human-all"] = training_labels(collection.qrels, human_judge(collection).fingerprint, [], (), "human")
    teacher_note = []
    if opts.teacher:
        teacher = replay_judge(opts.teacher)
        answers = teacher.judge(Batch(pool))
        sets["teacher"] = training_labels(humans.qrels, human, answers, teacher.scale, "student", 0.0, "teacher")
        sets["human+teacher"] = training_labels(humans.qrels, human, answers, teacher.scale, "both", 0.0, "teacher")
        taught = agreement(graded(answers), rest.qrels)
        teacher_note = [
            f"the teacher ({Path(opts.teacher).name}) labels the same pool; vs the hidden human labels: "
            f"kappa {taught.cohen_kappa:.3f}, alpha {taught.krippendorff_alpha:.3f}"
        ]
        if opts.adapt_budget:
            adapted = adapt_job(
                student, teacher, pool, collection, opts.out / "pool-adapted.txt", Budget.parse(opts.adapt_budget)
            )
            machine = [
                Judgment(r.pair.query_id, r.pair.doc_id, r.grade, r.judge or r.source) for r in adapted.provenance
            ]
            sets["adapted"] = training_labels(humans.qrels, human, machine, (), "student", 0.0, "adapted")
            sets["human+adapted"] = training_labels(humans.qrels, human, machine, (), "both", 0.0, "adapted")
            fitted = agreement(adapted.labels, rest.qrels)
            teacher_note.append(
                f"the student adapted to the teacher's grades of {len(adapted.sample)} pool pairs "
                f"({opts.adapt_budget}; they keep the teacher's grade) labels the pool; vs the hidden human labels: "
                f"kappa {fitted.cohen_kappa:.3f}, alpha {fitted.krippendorff_alpha:.3f}"
            )
    for name, labels in sets.items():
        write_training_labels(opts.out / "labels" / f"{name}.jsonl", labels)

    notes = [
        f"humans label {len(humans.queries)} of {len(collection.queries)} {collection.name} queries "
        f"({len(humans.qrels)} pairs); the student (default recipe) learns from them and labels the "
        f"{len(pool)} judged pairs of the other {len(rest.queries)} queries",
        f"the student's pool labels vs the hidden human labels: kappa {pool_agreement.cohen_kappa:.3f}, "
        f"alpha {pool_agreement.krippendorff_alpha:.3f}, Spearman {pool_agreement.spearman:.3f}",
        *teacher_note,
        f"every ranker reranks the judged docs of the {len(evaluation.queries)} {evaluation.name} queries "
        f"({len(evaluation.pairs)} pairs); p-values: paired and two-sided, nDCG@10 against 'human'",
    ]
    notes += [
        f"reference without training labels, {name}: nDCG@10 {m.value:.4f} [{m.low:.4f}, {m.high:.4f}]"
        for name, m in references(evaluation, opts.seed).items()
    ]
    print("\n".join(notes), flush=True)
    for kind in opts.rankers.split(","):
        config = RankerConfig(kind=kind, seed=opts.seed, steps=opts.rounds if kind == "lightgbm" else opts.steps)
        chosen = {name: sets[name] for name in opts.sets.split(",")} if opts.sets else sets
        rows = rank_eval(collection, chosen, evaluation, opts.out / kind, config)
        title = f"{kind} rankers trained on {collection.name} label sets, evaluated on {evaluation.name}"
        write_ranking_report(rows, opts.out / kind, title, notes + [f"ranker settings: {config}"])
        header, cells = report_table(rows)
        print(f"\n{title}\n| " + " | ".join(header) + " |")
        for row, cell in zip(rows, cells):
            print(
                "| "
                + " | ".join(cell)
                + " |"
                + (f" loss {row.losses[0]:.3f} -> {row.losses[1]:.3f}" if row.losses else ""),
                flush=True,
            )


def references(evaluation: object, seed: int) -> dict[str, object]:
    """nDCG@10 of BM25 and of MiniLM's untrained cosine (the bi-encoder's head is monotonic in it) on the same
    candidates."""
    candidates = judged_candidates(evaluation)
    index = BM25Index.build(evaluation.docs)
    runs = {"BM25": {q: dict(zip(docs, index.scores(evaluation.queries[q], docs))) for q, docs in candidates.items()}}
    model = BiEncoder.from_base(default_base(), [0, 1, 2, 3], "cpu", TrainConfig())
    model.module.eval()
    pairs = [(q, d) for q, docs in candidates.items() for d in docs]
    probs = predict_probs(
        model,
        model.encode([evaluation.queries[q] for q, _ in pairs], [evaluation.docs[d] for _, d in pairs], 256),
        4096,
        False,
    )
    runs["MiniLM cosine, untrained"] = {}
    for (q, d), score in zip(pairs, expected_grade(probs, [0, 1, 2, 3])):
        runs["MiniLM cosine, untrained"].setdefault(q, {})[d] = float(score)
    return {name: mean_with_interval(per_query(evaluation.qrels, run)["nDCG@10"], seed) for name, run in runs.items()}


if __name__ == "__main__":
    main()
