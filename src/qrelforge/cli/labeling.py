"""The labeling subcommands: label (and judge), the routed cascade, fill, export and review."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from .flags import config_from_args


def label(args: argparse.Namespace) -> int:
    """``label`` and ``judge``: any judge over the pairs, into LABELS and the files beside it."""
    from .. import ConfigError, EngineSettings, JudgmentStore, RayOptions, label_job, load_dataset, load_judge
    from ..datasets import load_pairs
    from ..evaluate.calibration import judgment_calibration
    from ..judges.cost import BilledJudge, plan
    from ..labeling.job import LabelFiles
    from ..report import label_summary, print_table, run_summary, write_report
    from ..students.student import Student

    dataset = load_dataset(args.dataset)
    pairs = load_pairs(args.pairs, dataset) if args.pairs else dataset.pairs
    if not pairs:
        source = args.pairs or (dataset.folder / "qrels.txt" if dataset.folder else args.dataset)
        raise ConfigError(f"nothing to label: {source} holds no pairs")
    settings = config_from_args(EngineSettings, args)
    judge = load_judge(args.judge, dataset, pairs, settings)
    if args.route:
        return _route(args, judge, dataset, pairs)
    billed = isinstance(judge, BilledJudge)
    if (args.dry_run or args.budget is not None) and not billed:
        raise ConfigError(f"--dry-run and --budget are for teachers that bill tokens (or with --route); "
                          f"{args.judge} is not one")
    if args.dry_run:
        with JudgmentStore(LabelFiles(args.out).store) as store:
            p = plan(judge, pairs, store)
        print(f"dry run: {p.todo} requests ({p.reused} pairs already answered in {store.path}); at most about "
              f"{p.estimate.prompt_tokens:,} prompt + {p.estimate.completion_tokens:,} completion tokens, "
              f"${p.cost:.4f}; teacher {judge.fingerprint}")
        return 0
    ray = config_from_args(RayOptions, args) if args.engine == "ray" else None
    labeled = label_job(judge, pairs, args.out, ray=ray, budget=_usd(args.budget), progress=not args.quiet)
    if billed:
        summary = run_summary(labeled.judgments, len(labeled.pairs), judge.prices, labeled.run)
    else:
        engine = ({"engine": args.engine, **(asdict(ray) if ray else {}), **asdict(settings)}
                  if isinstance(judge, Student) else None)
        summary = label_summary(labeled.judgments, len(labeled.pairs), labeled.run, engine)
    soft = labeled.files.soft
    wrote = f"wrote {args.out}" + (f", and {soft} with grade probabilities (train --soft-targets)"
                                   if soft.is_file() else "")
    print("\n".join(summary) + "\n" + wrote)
    if not labeled.grades.keys() & dataset.qrels.keys():
        print(f"no labeled pair has a human grade in {args.dataset}: no agreement to report")
        return 0
    rows = [labeled.row(dataset.qrels)]
    print_table(rows, f"{judge.fingerprint.split(':')[0]} vs the human qrels of {args.dataset}")
    if args.report:
        calibration = (judgment_calibration(labeled.judgments, judge.scale, dataset.qrels,
                                            judge.card.get("temperature", 1.0)) if isinstance(judge, Student) else None)
        write_report(rows, args.report, f"{args.out.name}: {judge.fingerprint}", summary, calibration)
    return 0


def _route(args: argparse.Namespace, student: object, dataset: object, pairs: list) -> int:
    """``label --route TEACHER --budget B``: the student labels everything, the teacher its least sure pairs."""
    from .. import ConfigError, judge_row, load_judge
    from ..evaluate.calibration import judgment_calibration
    from ..labeling.route import Budget, route_job
    from ..records import Pair
    from ..report import print_table, route_summary, write_report
    from ..students.student import Student

    if not isinstance(student, Student):
        raise ConfigError(f"--route sends a student's unsure pairs to a teacher; {args.judge} is not a student folder")
    if args.budget is None:
        raise ConfigError("--route needs --budget: a pair count (500), a share (30%) or money ($20)")
    teacher = load_judge(args.route, dataset, pairs)
    routed = route_job(student, teacher, pairs, args.out, Budget.parse(args.budget), args.route_by,
                       progress=not args.quiet)
    summary = route_summary(routed, teacher)
    print("\n".join(summary) + f"\nwrote {args.out}, and {routed.files.provenance} (who graded each pair)")
    if not routed.labels.keys() & dataset.qrels.keys():
        return 0
    alone = {Pair(r["qid"], r["docid"]): r["student"]["grade"] for r in routed.provenance}
    rows = [judge_row(f"cascade ({args.route_by}, budget {args.budget})", routed.labels, dataset.qrels),
            judge_row("student alone", alone, dataset.qrels)]
    print_table(rows, f"the cascade vs the human qrels of {args.dataset}")
    if args.report:
        write_report(rows, args.report, f"{args.out.name}: routed cascade", summary,
                     judgment_calibration(routed.student_judgments, student.scale, dataset.qrels,
                                          student.card.get("temperature", 1.0)))
    return 0


def _usd(budget: str | None) -> float | None:
    """``--budget`` without ``--route``: US dollars (``1.5`` or ``$1.5``)."""
    from .. import ConfigError

    if budget is None:
        return None
    try:
        return float(budget.strip().lstrip("$"))
    except ValueError:
        raise ConfigError(f"--budget {budget!r}: a teacher's spending cap is in US dollars (1.5); pair counts and "
                          f"shares are for --route") from None


def fill(args: argparse.Namespace) -> int:
    from .. import load_dataset, load_judge, read_qrels
    from ..io.trec import read_run
    from ..labeling.fill import MEASURES, fill_job
    from ..records import Pair
    from ..report import print_rows

    dataset = load_dataset(args.dataset)
    run = read_run(args.run, dataset.queries, dataset.docs)
    qrels = read_qrels(args.qrels, dataset.queries, dataset.docs, dataset.grades)
    pairs = [Pair(q, d) for q, docs in run.items() for d in docs]
    filled = fill_job(load_judge(args.judge, dataset, pairs), run, qrels, args.out, args.depth,
                      progress=not args.quiet)
    print(f"{len(filled.holes)} unjudged pairs in the top {args.depth}: {filled.run.judged} labeled now, "
          f"{filled.run.reused} reused; wrote {args.out} ({len(filled.qrels)} labels) and {filled.files.provenance}")
    print_rows(f"{args.run.name} on the original and the filled qrels", ["measure", "original", "filled"],
               [[m, f"{filled.original[m]:.4f}", f"{filled.filled[m]:.4f}"] for m in MEASURES])
    return 0


def export(args: argparse.Namespace) -> int:
    from .. import ConfigError, replay_judge, write_qrels
    from ..io.files import write_jsonl
    from ..io.parquet import write_parquet_rows
    from ..io.store import read_judgments, row_of
    from ..judges.replay import label_rows

    formats = (".txt", ".jsonl", ".parquet")
    if args.to.suffix not in formats:
        raise ConfigError(f"--to {args.to}: the suffix names the format, one of {formats}")
    if args.source.name.endswith(".judgments.jsonl"):  # a store: every judgment, every field
        judgments = sorted(read_judgments(args.source), key=lambda j: (j.judge, j.pair))
        judges = len({j.judge for j in judgments})
        if args.to.suffix == ".jsonl" or (args.to.suffix == ".txt" and judges > 1):
            kinds = "label JSONL" if args.to.suffix == ".jsonl" else "TREC qrels (one grade per pair)"
            targets = "to .parquet (every field of every judgment)" + (" or to .txt (its grades as TREC qrels)"
                                                                        if judges == 1 else "")
            raise ConfigError(f"{args.source} is a judgment store with {judges} judge{'s' if judges != 1 else ''}; it "
                              f"cannot be written as {kinds}: export it {targets}")
        rows = [row_of(j) for j in judgments]
        labels = {j.pair: j.grade for j in judgments if j.status == "ok" and j.grade is not None}
    else:
        judge = replay_judge(args.source)
        rows, labels = label_rows(judge.judge(sorted(judge.grades)), judge.scale), judge.grades
    if args.to.suffix == ".txt":
        write_qrels(args.to, labels)
    elif args.to.suffix == ".jsonl":
        write_jsonl(args.to, rows)
    else:
        write_parquet_rows(args.to, rows)
    print(f"wrote {args.to}: {len(rows)} rows")
    return 0


def review(args: argparse.Namespace) -> int:
    from .. import ConfigError, GradeScale, load_dataset
    from ..labeling.job import LabelFiles
    from ..review.app import create_app, export_grades
    from ..review.grades import AssessorGrades
    from ..review.items import load_items

    files = LabelFiles(args.labels)
    folder = args.dataset or (json.loads(files.job.read_text(encoding="utf-8"))["dataset"] if files.job.is_file()
                              else None)
    if not folder:
        raise ConfigError(f"{args.labels}: say which dataset's texts to show (--dataset DIR)")
    items = load_items(args.labels, load_dataset(folder))
    grades = AssessorGrades(files.assessor_log)
    if args.export:
        qrels, provenance = export_grades(grades, {i.pair: i for i in items}, args.labels)
        print(f"wrote {qrels} and {provenance}: {len(grades.latest())} assessor grades")
        return 0
    import secrets

    from werkzeug.serving import make_server

    server = make_server(args.host, args.port, None)  # bound first: the app answers only to its own port
    port, token = server.server_port, secrets.token_urlsafe(18)
    hosts = list(dict.fromkeys(f"{name}:{port}" for name in (args.host, "127.0.0.1", "localhost")))
    server.app = create_app(items, grades, GradeScale().grades, args.labels, token, hosts)
    print(f"review page: http://{args.host}:{port}/?token={token} ({len(items)} pairs; grades saved to "
          f"{files.assessor_log}; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
