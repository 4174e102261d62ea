"""The lines a labeling run prints and its report lists: statuses, throughput, engine and hardware, tokens and cost.

>>> from qrelforge import Judgment, LabelRun
>>> run = LabelRun("replay:x:0", judged=2, reused=0, seconds=0.5, statuses={"ok": 2})
>>> label_summary([Judgment("q", "a", 1, "replay:x:0"), Judgment("q", "b", 0, "replay:x:0")], 2, run)[0]
'2 of 2 pairs labeled: ok 2'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..judges.base import Judge, Texts
from ..judges.cost import spent, total_usage, worst_cost
from ..labeling.adapt import Adapted
from ..labeling.audit import Audit
from ..labeling.local import LabelRun
from ..labeling.panel import Paneled
from ..labeling.route import Routed
from ..llm.config import Prices
from ..records import Judgment, Usage


def run_summary(judgments: Sequence[Judgment], wanted: int, prices: Prices, run: LabelRun) -> list[str]:
    """Lines on a teacher's judgments of the ``wanted`` pairs: statuses, parse failures, tokens, cost, speed."""
    statuses = Counter(j.status for j in judgments)
    usage = total_usage(judgments)
    answered = statuses["ok"] + statuses["parse_error"]
    rate = f"{statuses['parse_error'] / answered:.1%}" if answered else "n/a"
    tokens = usage.prompt_tokens + usage.completion_tokens
    lines = [
        f"{len(judgments)} of {wanted} pairs judged: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())),
        f"parse failures: {statuses['parse_error']} of {answered} answers ({rate}); they have no grade",
        "usage: " + usage_line(usage, prices),
        f"this run: {run.judged} requests, {run.reused} pairs reused from the store, "
        f"{run.pairs_per_second:.2f} requests/s, {run.tokens_per_second:,.0f} tokens/s",
    ]
    if run.stopped_by_budget:
        lines.append(
            f"stopped by the budget: {wanted - len(judgments)} pairs left unjudged; rerun with a larger "
            f"--budget to continue"
        )
    return lines + ([] if tokens or not judgments else ["the server reported no token counts"])


def usage_line(usage: Usage, prices: Prices | None) -> str:
    """Requests, tokens and, with prices, their cost."""
    line = (
        f"{usage.requests:,} requests, {usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion tokens"
    )
    if prices is None:
        return line
    return (
        f"{line}; cost ${prices.cost(usage):.4f} (prices per million: ${prices.input_per_million} in, "
        f"${prices.output_per_million} out)"
    )


def label_summary(
    judgments: Sequence[Judgment], wanted: int, run: LabelRun, engine: dict[str, Any] | None = None
) -> list[str]:
    """Lines on a labeling run: statuses and throughput, and for a student the engine's settings and the hardware."""
    statuses = Counter(j.status for j in judgments)
    lines = [
        f"{len(judgments)} of {wanted} pairs labeled: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())),
        f"this run: {run.judged} pairs in {run.seconds:.1f} s, {run.pairs_per_second:.1f} pairs/s; "
        f"{run.reused} pairs reused from the store",
    ]
    if engine is not None:
        from ..students.engine import hardware

        lines += [
            "engine: " + ", ".join(f"{k} {v}" for k, v in engine.items() if v is not None),
            "hardware: " + ", ".join(f"{k} {v}" for k, v in hardware().items() if v is not None),
        ]
    return lines


def route_summary(routed: Routed, teacher: Judge, texts: Texts) -> list[str]:
    """Lines on a routed cascade: who graded how many pairs, what the teacher's run did, and the cost saved against
    sending every pair to the teacher."""
    total, by_teacher = len(routed.provenance), routed.sources.get("teacher", 0)
    failed = sum(1 for r in routed.provenance if r.teacher and r.source == "student")
    run = routed.teacher_run
    lines = [
        f"{total} pairs: {routed.sources.get('student', 0)} graded by the student, {by_teacher} by the teacher "
        f"({len(routed.routed)} routed; {failed} of them kept the student's grade: the teacher gave none)",
        f"teacher this run: {run.judged} requests, {run.reused} pairs reused from the store",
    ]
    share = len(routed.routed) / total if total else 0.0
    if teacher.traits.prices is not None:
        cost = spent(teacher, routed.teacher_judgments)
        alone = sum(worst_cost(teacher, [r.pair for r in routed.provenance], texts))
        lines.append(
            f"cost: ${cost:.4f} for the routed pairs; teacher-only at most about ${alone:.4f}: "
            f"{1 - cost / alone:.0%} saved"
            if alone
            else "cost: nothing billed"
        )
    else:
        lines.append(
            f"cost: the teacher graded {share:.0%} of the pairs, so {1 - share:.0%} of a teacher-only run's "
            "cost is saved (a replayed teacher bills nothing)"
        )
    return lines


def adapt_summary(adapted: Adapted) -> list[str]:
    """Lines on an adapted job: the sample, who graded how many pairs, and the estimated agreement of the adapted
    labels with the teacher (the number to decide on: keep the labels, route more, or adapt more)."""
    e = adapted.estimate
    lines = [
        f"adaptation ({adapted.adapter.method}): the teacher graded {len(adapted.sample)} sampled pairs of "
        f"{len(adapted.provenance)}; {adapted.sources.get('teacher', 0)} labels are the teacher's, "
        f"{adapted.sources.get('student', 0)} the adapted student's"
        + (f" ({len(adapted.routed)} pairs routed to a teacher after adapting)" if adapted.routed else ""),
        f"teacher this run: {adapted.teacher_run.judged} requests, {adapted.teacher_run.reused} reused from the store",
    ]
    if adapted.refit:
        lines.append(
            f"the student was fine-tuned again on the sample and the teacher's answers to {adapted.refit} routed "
            "pairs, and labeled the pairs left"
        )
    parts = []
    for name in ("kappa", "alpha", "accuracy"):
        value, interval = e.values[name], e.intervals[name]
        shown = "n/a" if value is None else f"{value:.3f}"
        parts.append(f"{name} {shown}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""))
    kept = " (those the adapted student would have routed left out)" if adapted.routed else ""
    lines.append(
        f"estimated agreement of the adapted labels with the teacher (cross-fitted on the sample, "
        f"{e.n} pairs{kept} of {e.queries} queries, 95% intervals over queries): " + ", ".join(parts)
    )
    if e.curve:
        measured = "; ".join(
            f"on {share:.0%} of it, kappa " + ("n/a" if values["kappa"] is None else f"{values['kappa']:.3f}")
            for share, values in e.curve
        )
        to = (
            f"the sample and the {adapted.refit} routed answers (each taken to teach as much as a sampled pair)"
            if adapted.refit
            else "the whole sample"
        )
        lines.append(
            f"(extrapolated to {to} from adaptations fitted {measured}: a learning curve straight in the log of "
            "the training size)"
        )
    return lines


def panel_summary(panel: Paneled) -> list[str]:
    """Lines on a panel: each member's run and failures, the rule and quorum, and the members' agreement."""
    lines = []
    for number, member in enumerate(panel.members, 1):
        statuses = Counter(j.status for j in member.judgments)
        lines.append(
            f"judge {number} {member.judge.fingerprint}: "
            + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items()))
            + f"; this run {member.run.judged} labeled, {member.run.reused} reused"
        )
    lines.append(
        f"panel ({panel.rule}, a quorum of {panel.quorum} votes): {len(panel.labels)} of {len(panel.provenance)} "
        f"pairs graded" + (f", {panel.ungraded} without a quorum (no grade)" if panel.ungraded else "")
    )
    among = panel.agreement
    lines.append(
        f"the judges among themselves: Fleiss' kappa {_number(among.fleiss_kappa)} on the "
        f"{among.pairs_all_graded} pairs all graded, Krippendorff's alpha (ordinal) "
        f"{_number(among.krippendorff_alpha)} on {among.pairs}"
    )
    names = {m.judge.fingerprint: f"judge {n}" for n, m in enumerate(panel.members, 1)}
    lines += [f"Cohen's kappa, {names[a]} vs {names[b]}: {_number(k)}" for (a, b), k in among.pairwise_kappa.items()]
    return lines


def audit_summary(audit: Audit, top: int) -> list[str]:
    """Lines on an audit: the judges, the score's spread, and the ``top`` most suspect pairs."""
    lines = [f"judge {n}: {job.judge.fingerprint}" for n, job in enumerate(audit.judges, 1)]
    scores = sorted((row.audit or 0.0 for row in audit.rows), reverse=True)
    tenth = scores[max(0, len(scores) // 10 - 1)]
    lines.append(
        f"{len(audit.rows)} human grades audited; audit score (the judges' expected distance from the human "
        f"grade): max {scores[0]:.2f}, top 10% above {tenth:.2f}, median {scores[len(scores) // 2]:.2f}"
    )
    for rank, row in enumerate(audit.rows[:top], 1):
        theirs = ", ".join("—" if a.grade is None else str(a.grade) for a in row.members)
        lines.append(
            f"{rank:>3}. {row.pair.query_id} / {row.pair.doc_id}: human {row.grade}, judges {theirs}, "
            f"score {row.audit or 0.0:.2f}"
        )
    return lines


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
