"""The subcommands that train, run the chain, evaluate and rank: each reads its flags, calls the library, and
prints what came out (the labeling ones are in ``cli/labeling.py``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..records import graded
from .flags import config_from_args
from .paths import named_path

if TYPE_CHECKING:
    from ..datasets import Dataset
    from ..judges.base import Judge


def train(args: argparse.Namespace) -> int:
    from .. import TrainConfig, load_dataset, teacher_examples, train_student

    datasets = [load_dataset(d) for d in args.dataset]
    teacher = _teacher(args.teacher, datasets, args.out, not args.quiet) if args.teacher else None
    config = config_from_args(TrainConfig, args)
    result = train_student(teacher_examples(datasets, teacher), args.out, config, progress=not args.quiet)
    v = result.validation
    print(
        f"trained on {result.train_examples} pairs in {result.seconds / 60:.1f} min "
        f"({result.train_pairs_per_second:.1f} pairs/s); loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f}"
    )
    print(
        f"validation vs teacher ({v.n} pairs of held-out queries): kappa {_f(v.cohen_kappa)}, "
        f"alpha {_f(v.krippendorff_alpha)}, accuracy {v.accuracy:.4f}"
    )
    print(f"saved to {result.model_dir}")
    return 0


def _teacher(spec: str, datasets: list[Dataset], out: Path, progress: bool) -> Judge:
    """``train --teacher SPEC``: any judge. A judge that bills (a teacher LLM) labels each dataset's pairs first, into
    a store beside the model folder (resumable, never asked twice), and its stored answers teach; any other judge
    (recorded labels, ``human``, a student) is asked as training reads the pairs."""
    from .. import LookupJudge, label_job, load_judge

    judge = load_judge(spec, datasets[0], [p for d in datasets for p in d.pairs])
    if judge.traits.prices is None:
        return judge
    answers = [
        j
        for i, dataset in enumerate(datasets)
        for j in label_job(
            judge,
            dataset.pairs,
            dataset,
            progress=progress,
            store=out.with_name(f"{out.name}.teacher-{i + 1}.judgments.jsonl"),
        ).judgments
    ]
    return LookupJudge(
        graded(answers), judge.fingerprint, {j.pair: j.probs for j in answers if j.ok and j.probs}, judge.scale
    )


def run(args: argparse.Namespace) -> int:
    from ..pipeline.config import load_pipeline_config
    from ..pipeline.run import dry_run, run_pipeline

    config = load_pipeline_config(args.config)
    if args.dry_run:
        print("\n".join(dry_run(config, args.out)))
        return 0
    for stage, manifest in run_pipeline(config, args.out, progress=not args.quiet).items():
        print(f"{stage}: {json.dumps(manifest['counts'])[:300]}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from .. import read_qrels
    from ..evaluate.agreement import judge_row
    from ..io.shards import is_shard_folder, shard_grades
    from ..report import print_table, write_report

    grades = tuple(int(g) for g in args.grades.split(","))
    if is_shard_folder(args.labels):  # a Ray run's shards: streamed, only the pairs QRELS grades are kept
        qrels = read_qrels(args.qrels, scale=grades)
        labels = shard_grades(args.labels, qrels.keys())
    else:
        labels, qrels = read_qrels(args.labels, scale=grades), read_qrels(args.qrels, scale=grades)
    row = judge_row(args.labels.name, labels, qrels)
    if args.json:
        print(json.dumps(row.agreement.to_dict()))
    else:
        print_table([row], f"{args.labels} vs {args.qrels}")
    if args.report:
        write_report([row], args.report, f"{args.labels.name} vs {args.qrels.name}")
    return 0


def demo(args: argparse.Namespace) -> int:
    from .. import run_demo

    run_demo(args.out, progress=not args.quiet)
    return 0


def convert_gguf(args: argparse.Namespace) -> int:
    from ..students.gguf import convert_gguf

    print(f"wrote {convert_gguf(args.out, args.gguf)}")
    return 0


def augment(args: argparse.Namespace) -> int:
    from .. import human_judge, load_dataset, load_judge, read_qrels, replay_judge
    from ..datasets import load_pairs
    from ..rank.augment import augment_job, provenance

    dataset = load_dataset(args.dataset)
    pool = load_pairs(args.pairs, dataset)
    human = replay_judge(args.human, dataset.grades) if args.human else human_judge(dataset)
    people = read_qrels(args.human, dataset.queries, dataset.docs, dataset.grades) if args.human else dataset.qrels
    sets = augment_job(
        load_judge(args.judge, dataset, pool),
        pool,
        dataset,
        people,
        human.fingerprint,
        args.out,
        args.min_confidence,
        progress=not args.quiet,
    )
    for mix, labels in sets.items():
        print(f"{args.out / f'{mix}.jsonl'}: {len(labels)} labels {provenance(labels)}")
    return 0


def rank_eval(args: argparse.Namespace) -> int:
    from .. import ConfigError, load_dataset
    from ..rank.augment import read_training_labels
    from ..rank.config import RankerConfig
    from ..rank.experiment import rank_eval, report_table, write_ranking_report
    from ..report import print_rows

    train_dataset, eval_dataset = load_dataset(args.train_dataset), load_dataset(args.eval_dataset)
    sets = {}
    for spec in args.train:
        name, path = named_path(spec)
        if name in sets:
            raise ConfigError(f"two training sets are named {name!r}; name them with --train NAME=LABELS")
        sets[name] = read_training_labels(path)
    config = config_from_args(RankerConfig, args)
    rows = rank_eval(train_dataset, sets, eval_dataset, args.out, config, progress=not args.quiet)
    title = (
        f"{config.kind} rankers trained on {train_dataset.name}, reranking the judged docs of "
        f"{len(eval_dataset.queries)} {eval_dataset.name} queries"
    )
    notes = [
        f"same ranker settings for every training set: {config}",
        "MAP and MRR@10 count grade 2 and above as relevant; p-values: paired, two-sided, on nDCG@10",
    ]
    report = write_ranking_report(rows, args.out, title, notes)
    print_rows(title, *report_table(rows))
    print(f"wrote {report}")
    return 0


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
