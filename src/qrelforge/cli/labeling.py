"""The labeling subcommands: label (and judge), the routed cascade, fill, export and review."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from ..records import Pair, graded
from .flags import config_from_args

if TYPE_CHECKING:
    from ..datasets import Dataset
    from ..judges.base import Judge
    from ..judges.cost import Budget
    from ..labeling.config import RayOptions
    from ..students.config import EngineSettings


def label(args: argparse.Namespace) -> int:
    """``label`` and ``judge``: any judge over the pairs, into LABELS and the files beside it."""
    from .. import ConfigError, EngineSettings, RayOptions, label_job, load_dataset, load_judge
    from ..datasets import load_pairs
    from ..evaluate.calibration import judgment_calibration
    from ..labeling.job import LabelFiles, plan_job
    from ..report import label_summary, print_table, run_summary, write_report

    _refuse_idle_flags(args)
    settings = config_from_args(EngineSettings, args)
    ray = config_from_args(RayOptions, args) if args.engine == "ray" else None
    if ray is not None and args.pairs and (args.pairs.is_dir() or args.pairs.suffix == ".parquet"):
        return _label_pair_set(args, settings, ray)
    if args.dataset is None:
        raise ConfigError(
            "label needs --dataset DIR (the texts and the qrels), unless --engine ray labels a Parquet "
            "pair set with query and text columns"
        )
    dataset = load_dataset(args.dataset)
    pairs = load_pairs(args.pairs, dataset) if args.pairs else dataset.pairs
    if not pairs:
        source = args.pairs or (dataset.folder / "qrels.txt" if dataset.folder else args.dataset)
        raise ConfigError(f"nothing to label: {source} holds no pairs")
    if args.panel or len(args.judge) > 1:
        return _panel(args, [load_judge(spec, dataset, pairs, settings) for spec in args.judge], dataset, pairs, ray)
    [spec] = args.judge
    judge = load_judge(spec, dataset, pairs, settings)
    if args.adapt:
        return _adapt(args, judge, dataset, pairs, ray)
    if args.route:
        return _route(args, judge, dataset, pairs, ray)
    prices = judge.traits.prices
    if args.dry_run:
        if prices is None:
            raise ConfigError(f"--dry-run is for teachers that bill tokens; {spec} is not one")
        p = plan_job(judge, pairs, dataset, args.out)
        print(
            f"dry run: {p.todo} requests ({p.reused} pairs already answered in {LabelFiles(args.out).store}); "
            f"at most about "
            f"{p.estimate.prompt_tokens:,} prompt + {p.estimate.completion_tokens:,} completion tokens, "
            f"${p.cost:.4f}; teacher {judge.fingerprint}"
        )
        return 0
    labeled = label_job(
        judge, pairs, dataset, args.out, ray=ray, budget=_budget(args.budget, legacy_usd=True), progress=not args.quiet
    )
    if prices is not None:
        summary = run_summary(labeled.judgments, len(labeled.pairs), prices, labeled.run)
    else:
        engine = (
            {"engine": args.engine, **(asdict(ray) if ray else {}), **asdict(settings)} if judge.traits.card else None
        )
        summary = label_summary(labeled.judgments, len(labeled.pairs), labeled.run, engine)
    soft = LabelFiles(args.out).soft
    wrote = f"wrote {args.out}" + (
        f", and {soft} with grade probabilities (train --soft-targets)" if soft.is_file() else ""
    )
    print("\n".join(summary) + "\n" + wrote)
    if not labeled.grades.keys() & dataset.qrels.keys():
        print(f"no labeled pair has a human grade in {args.dataset}: no agreement to report")
        return 0
    rows = [labeled.row(dataset.qrels)]
    print_table(rows, f"{judge.fingerprint.split(':')[0]} vs the human qrels of {args.dataset}")
    if args.report:
        card = judge.traits.card
        calibration = (
            judgment_calibration(labeled.judgments, judge.scale, dataset.qrels, card.temperature) if card else None
        )
        write_report(rows, args.report, f"{args.out.name}: {judge.fingerprint}", summary, calibration)
    return 0


def _refuse_idle_flags(args: argparse.Namespace) -> None:
    """A flag that would change nothing is a mistake to say, not to pass over: ``--adapt-budget`` and the adaptation's
    settings need ``--adapt``; ``--route-by``, and ``--budget`` beside ``--adapt``, need ``--route``."""
    from .. import AdaptConfig, ConfigError
    from ..labeling.config import DEFAULT_ROUTING

    if not args.adapt:
        idle = ["--adapt-budget"] if args.adapt_budget is not None else []
        idle += [
            f.metadata.get("flag") or f"--{f.name.replace('_', '-')}"
            for f in fields(AdaptConfig)
            if getattr(args, f.name) != f.default
        ]
        if idle:
            raise ConfigError(
                f"{', '.join(idle)}: how --adapt adapts the student, and there is no --adapt here; give --adapt "
                f"TEACHER (a teacher YAML, a label file or 'human'), or drop {'it' if len(idle) == 1 else 'them'}"
            )
    if not args.route and args.route_by != DEFAULT_ROUTING:
        raise ConfigError("--route-by: which pairs --route sends to a teacher, and there is no --route here")
    if args.adapt and not args.route and args.budget is not None:
        raise ConfigError(
            "--budget beside --adapt: what --route may send to a teacher after adapting, and there is no --route "
            "here (the sample's budget is --adapt-budget)"
        )


def _label_pair_set(args: argparse.Namespace, settings: EngineSettings, ray: RayOptions) -> int:
    """``label --engine ray --pairs PAIRS.parquet``: the workers read the pair set and write shards; the driver
    counts, then streams the shards into LABELS and the agreement with DIR's qrels."""
    from .. import ConfigError, Dataset, load_dataset, load_judge
    from ..evaluate.agreement import judge_row
    from ..io.shards import shard_grades, shards_usage
    from ..labeling.export import export_shards
    from ..labeling.job import LabelFiles
    from ..labeling.stream import label_parquet
    from ..report import print_table, write_report
    from ..report.summaries import usage_line

    if args.panel or len(args.judge) > 1 or args.route or args.adapt or args.budget or args.dry_run:
        raise ConfigError(
            "--engine ray over a Parquet pair set labels with one judge: --panel, --route, --adapt, --budget and "
            "--dry-run need the pairs in memory (drop --engine ray, or give --pairs as TREC qrels)"
        )
    dataset = load_dataset(args.dataset) if args.dataset else Dataset(args.pairs.name)
    judge = load_judge(args.judge[0], dataset, (), settings)
    texts = Dataset.from_folder(dataset.folder) if dataset.folder else None  # read on the workers, not here
    files = LabelFiles(args.out)
    run = label_parquet(judge, args.pairs, files.shards, texts, ray, progress=not args.quiet)
    written = export_shards(files.shards, args.out)
    statuses = ", ".join(f"{n:,} {status}" for status, n in sorted(run.statuses.items()))
    summary = [
        f"labeled {run.judged:,} pairs on Ray ({statuses or 'none new'}; {run.reused:,} were already in "
        f"{files.shards}), {run.pairs_per_second:.1f} pairs/s",
        f"wrote {args.out} ({written:,} {'rows' if args.out.suffix == '.parquet' else 'grades'})",
    ]
    if run.usage.requests:  # a teacher: this run's bill, and the bill of the answers the shards keep
        kept, prices = shards_usage(files.shards), judge.traits.prices
        summary.append(
            f"teacher usage this run: {usage_line(run.usage, prices)}; of the answers in the shards: "
            f"{usage_line(kept, prices)}"
        )
    if unanswered := run.statuses.get("api_error"):
        summary.append(f"{unanswered:,} pairs got no answer (no grade): run the same command again to ask them alone")
    print("\n".join(summary))
    grades = (
        shard_grades(files.shards, dataset.qrels.keys())
        if dataset.folder and (dataset.folder / "qrels.txt").is_file()
        else {}
    )
    rows = [judge_row(judge.fingerprint, grades, dataset.qrels, run.pairs_per_second or None)] if grades else []
    if rows:
        print_table(rows, f"{judge.fingerprint.split(':')[0]} vs the human qrels of {args.dataset}")
    if args.report:
        write_report(rows, args.report, f"{args.out.name}: {judge.fingerprint}", summary)
    return 0


def _panel(
    args: argparse.Namespace, members: list[Judge], dataset: Dataset, pairs: list[Pair], ray: RayOptions | None
) -> int:
    """``label --judge A --judge B ... --panel RULE``: every judge labels the pairs, the rule combines their grades."""
    from .. import ConfigError, judge_row
    from ..labeling.panel import panel_job
    from ..report import panel_summary, print_table, write_report

    if not args.panel:
        raise ConfigError(f"{len(members)} judges (--judge) need --panel majority|mean|median to combine them")
    if args.route or args.adapt or args.dry_run or args.budget:
        raise ConfigError("--panel combines whole judges: it takes no --route, --adapt, --budget or --dry-run")
    panel = panel_job(members, pairs, dataset, args.out, args.panel, ray=ray, progress=not args.quiet)
    summary = panel_summary(panel)
    print("\n".join(summary) + f"\nwrote {args.out}, and {panel.files.provenance} (every judge's grade)")
    if not panel.labels.keys() & dataset.qrels.keys():
        return 0
    rows = [judge_row(f"panel ({args.panel})", panel.labels, dataset.qrels)] + [
        judge_row(f"judge {n}: {m.judge.fingerprint}", m.grades, dataset.qrels)
        for n, m in enumerate(panel.members, 1)
        if m.grades
    ]
    print_table(rows, f"the panel and its judges vs the human qrels of {args.dataset}")
    if args.report:
        write_report(rows, args.report, f"{args.out.name}: a panel of {len(members)} judges", summary)
    return 0


def audit(args: argparse.Namespace) -> int:
    """``audit --qrels QRELS --dataset DIR --judge J [--judge ...] --out AUDIT``."""
    from .. import load_dataset, load_judge, read_qrels
    from ..labeling.audit import audit_job
    from ..report import audit_summary

    dataset = load_dataset(args.dataset)
    qrels = read_qrels(args.qrels, dataset.queries, dataset.docs, dataset.grades)
    pairs = sorted(qrels)
    judges = [load_judge(spec, dataset, pairs) for spec in args.judge]
    result = audit_job(judges, qrels, dataset, args.out, progress=not args.quiet)
    print("\n".join(audit_summary(result, args.top)))
    print(
        f"wrote {result.files.audit_table} and {result.files.provenance}; review the most suspect first with: "
        f"qrelforge review --labels {args.out}"
    )
    return 0


def _route(
    args: argparse.Namespace, student: Judge, dataset: Dataset, pairs: list[Pair], ray: RayOptions | None
) -> int:
    """``label --route TEACHER --budget B``: the student labels everything, the teacher its least sure pairs."""
    from .. import ConfigError, judge_row, load_judge
    from ..evaluate.calibration import judgment_calibration
    from ..labeling.route import route_job
    from ..report import print_table, route_summary, write_report

    card = student.traits.card
    if card is None:
        raise ConfigError(
            f"--route sends a student's unsure pairs to a teacher; {args.judge[0]} is not a student folder"
        )
    budget = _budget(args.budget, legacy_usd=False)
    if budget is None:
        raise ConfigError("--route needs --budget: a pair count (500), a share (30%) or money ($20)")
    teacher = load_judge(args.route, dataset, pairs)
    routed = route_job(
        student, teacher, pairs, dataset, args.out, budget, args.route_by, ray=ray, progress=not args.quiet
    )
    summary = route_summary(routed, teacher, dataset)
    print("\n".join(summary) + f"\nwrote {args.out}, and {routed.files.provenance} (who graded each pair)")
    if not routed.labels.keys() & dataset.qrels.keys():
        return 0
    alone = graded(routed.student_judgments)
    rows = [
        judge_row(f"cascade ({args.route_by}, budget {args.budget})", routed.labels, dataset.qrels),
        judge_row("student alone", alone, dataset.qrels),
    ]
    print_table(rows, f"the cascade vs the human qrels of {args.dataset}")
    if args.report:
        write_report(
            rows,
            args.report,
            f"{args.out.name}: routed cascade",
            summary,
            judgment_calibration(routed.student_judgments, student.scale, dataset.qrels, card.temperature),
        )
    return 0


def _adapt(
    args: argparse.Namespace, student: Judge, dataset: Dataset, pairs: list[Pair], ray: RayOptions | None
) -> int:
    """``label --adapt TEACHER --adapt-budget B [--route TEACHER --budget B]``: the student adapted to a teacher's
    sample of this collection."""
    from .. import AdaptConfig, ConfigError, EngineSettings, judge_row, load_judge
    from ..labeling.adapt import Route, adapt_job
    from ..report import adapt_summary, print_table, write_report

    budget = _budget(args.adapt_budget, legacy_usd=False)
    if budget is None:
        raise ConfigError("--adapt needs --adapt-budget: a pair count (500), a share (10%) or money ($20)")
    route = None
    if args.route:
        route_budget = _budget(args.budget, legacy_usd=False)
        if route_budget is None:
            raise ConfigError("--route needs --budget: a pair count (500), a share (30%) or money ($20)")
        route = Route(load_judge(args.route, dataset, pairs), route_budget, args.route_by)
    adapted = adapt_job(
        student,
        load_judge(args.adapt, dataset, pairs),
        pairs,
        dataset,
        args.out,
        budget,
        config_from_args(AdaptConfig, args),
        route,
        ray,
        progress=not args.quiet,
        engine=config_from_args(EngineSettings, args),
    )
    summary = adapt_summary(adapted)
    print("\n".join(summary) + f"\nwrote {args.out}, {adapted.files.provenance} and {adapted.files.adapt}")
    if not adapted.labels.keys() & dataset.qrels.keys():
        return 0
    rows = [
        judge_row(f"adapted ({adapted.adapter.method}, sample {args.adapt_budget})", adapted.labels, dataset.qrels),
        judge_row("student alone", graded(adapted.student_judgments), dataset.qrels),
    ]
    print_table(rows, f"the adapted labels vs the human qrels of {args.dataset}")
    if args.report:
        write_report(rows, args.report, f"{args.out.name}: adapted student", summary)
    return 0


def _budget(text: str | None, legacy_usd: bool) -> Budget | None:
    """``--budget``, read as everywhere (``500`` pairs, ``30%``, ``$20``). Without ``--route``, a bare number used to
    mean US dollars: with ``legacy_usd`` it still does, with a deprecation line."""
    from ..judges.cost import Budget

    if text is None:
        return None
    if legacy_usd and re.fullmatch(r"\s*\d+(\.\d+)?\s*", text):
        print(
            f"qrelforge: deprecated: --budget {text.strip()} reads as US dollars, as before; write --budget "
            f"'${text.strip()}' (a bare number will mean a pair count, as it does with --route)",
            file=sys.stderr,
        )
        return Budget(usd=float(text))
    return Budget.parse(text)


def fill(args: argparse.Namespace) -> int:
    from .. import load_dataset, load_judge, read_qrels
    from ..io.trec import read_run
    from ..labeling.fill import MEASURES, fill_job
    from ..report import print_rows

    dataset = load_dataset(args.dataset)
    run = read_run(args.run, dataset.queries, dataset.docs)
    qrels = read_qrels(args.qrels, dataset.queries, dataset.docs, dataset.grades)
    pairs = [Pair(q, d) for q, docs in run.items() for d in docs]
    filled = fill_job(
        load_judge(args.judge, dataset, pairs), run, qrels, dataset, args.out, args.depth, progress=not args.quiet
    )
    print(
        f"{len(filled.holes)} unjudged pairs in the top {args.depth}: {filled.run.judged} labeled now, "
        f"{filled.run.reused} reused; wrote {args.out} ({len(filled.qrels)} labels) and {filled.files.provenance}"
    )
    print_rows(
        f"{args.run.name} on the original and the filled qrels",
        ["measure", "original", "filled"],
        [[m, f"{filled.original[m]:.4f}", f"{filled.filled[m]:.4f}"] for m in MEASURES],
    )
    return 0


def export(args: argparse.Namespace) -> int:
    from ..labeling.export import export_labels

    print(f"wrote {args.to}: {export_labels(args.source, args.to)} rows")
    return 0


def review(args: argparse.Namespace) -> int:
    from .. import ConfigError, GradeScale, load_dataset
    from ..labeling.job import LabelFiles
    from ..review.app import create_app, export_grades
    from ..review.grades import AssessorGrades
    from ..review.items import load_items

    files = LabelFiles(args.labels)
    folder = args.dataset or (
        json.loads(files.job.read_text(encoding="utf-8"))["dataset"] if files.job.is_file() else None
    )
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

    server = make_server(args.host, args.port, _starting)  # bound first: the app answers only to its own port
    port, token = server.server_port, secrets.token_urlsafe(18)
    hosts = list(dict.fromkeys(f"{name}:{port}" for name in (args.host, "127.0.0.1", "localhost")))
    server.app = create_app(items, grades, GradeScale().grades, args.labels, token, hosts)
    print(
        f"review page: http://{args.host}:{port}/?token={token} ({len(items)} pairs; grades saved to "
        f"{files.assessor_log}; Ctrl-C stops)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _starting(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The review server's app until the page's app knows the port it answers to."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]
