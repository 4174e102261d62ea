"""Reports: a terminal table, a Markdown file and a self-contained HTML file (agreement reports add plots).

``print_rows``, ``markdown_table`` and ``html_page`` lay out any table; the agreement report and the ranking report
(``rank/experiment.py``) both use them.

>>> import tempfile
>>> from qrelforge import Pair, judge_row, write_report
>>> row = judge_row("judge", {Pair("q", "a"): 1, Pair("q", "b"): 0}, {Pair("q", "a"): 1, Pair("q", "b"): 1})
>>> write_report([row], tempfile.mkdtemp(), "an example").name
'report.html'
"""
from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .evaluate.agreement import JudgeRow
from .io.files import write_atomic
from .labeling.local import LabelRun
from .llm.config import Prices
from .records import Judgment

COLUMNS = ("judge", "n", "missing", "kappa", "kappa>=1", "kappa>=2", "alpha", "accuracy", "spearman", "pairs/s")


def cells(row: JudgeRow) -> list[str]:
    a = row.agreement
    values = (a.cohen_kappa, a.kappa_ge1, a.kappa_ge2, a.krippendorff_alpha, a.accuracy, a.spearman)
    speed = "—" if row.pairs_per_second is None else f"{row.pairs_per_second:,.1f}"
    return [row.judge, str(a.n), str(a.missing), *("n/a" if v is None else f"{v:.4f}" for v in values), speed]


def run_summary(judgments: Sequence[Judgment], wanted: int, prices: Prices, run: LabelRun) -> list[str]:
    """Lines on a teacher's judgments of the ``wanted`` pairs: statuses, parse failures, tokens, cost, speed."""
    from collections import Counter

    from .judges.cost import total_usage

    statuses = Counter(j.status for j in judgments)
    usage = total_usage(judgments)
    answered = statuses["ok"] + statuses["parse_error"]
    rate = f"{statuses['parse_error'] / answered:.1%}" if answered else "n/a"
    tokens = usage.prompt_tokens + usage.completion_tokens
    lines = [f"{len(judgments)} of {wanted} pairs judged: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())),
             f"parse failures: {statuses['parse_error']} of {answered} answers ({rate}); they have no grade",
             f"usage: {usage.requests:,} requests, {usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} "
             f"completion tokens; cost ${prices.cost(usage):.4f} (prices per million: "
             f"${prices.input_per_million} in, ${prices.output_per_million} out)",
             f"this run: {run.judged} requests, {run.reused} pairs reused from the store, "
             f"{run.pairs_per_second:.2f} requests/s, {run.tokens_per_second:,.0f} tokens/s"]
    if run.stopped_by_budget:
        lines.append(f"stopped by the budget: {wanted - len(judgments)} pairs left unjudged; rerun with a larger "
                     f"--budget to continue")
    return lines + ([] if tokens or not judgments else ["the server reported no token counts"])


def label_summary(judgments: Sequence[Judgment], wanted: int, run: LabelRun,
                  engine: dict[str, Any] | None = None) -> list[str]:
    """Lines on a labeling run: statuses and throughput, and for a student the engine's settings and the hardware."""
    from collections import Counter

    statuses = Counter(j.status for j in judgments)
    lines = [f"{len(judgments)} of {wanted} pairs labeled: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())),
             f"this run: {run.judged} pairs in {run.seconds:.1f} s, {run.pairs_per_second:.1f} pairs/s; "
             f"{run.reused} pairs reused from the store"]
    if engine is not None:
        from .students.engine import hardware

        lines += ["engine: " + ", ".join(f"{k} {v}" for k, v in engine.items() if v is not None),
                  "hardware: " + ", ".join(f"{k} {v}" for k, v in hardware().items() if v is not None)]
    return lines


def print_table(rows: Sequence[JudgeRow], title: str) -> None:
    """Print the agreement table to the terminal."""
    print_rows(title, COLUMNS, [cells(row) for row in rows])


def print_rows(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a table to the terminal; the first column left-aligned, the numbers right-aligned."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not console.is_terminal:  # a pipe or a log: do not squeeze the numbers into 80 columns
        console = Console(width=250)
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: a judge name like "openai:m:…" is no emoji code
    console.print(table)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def html_page(title: str, notes: Sequence[str], body: str) -> str:
    """A self-contained HTML page: the title, the notes as a list, then ``body``."""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}</style></head>
<body><h1>{html.escape(title)}</h1><ul>{items}</ul>{body}</body></html>
"""


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def markdown_report(rows: Sequence[JudgeRow], title: str, notes: Sequence[str] = ()) -> str:
    lines = [f"# {title}", "", *(f"- {n}" for n in notes), "", "## Agreement with the reference labels", "",
             *markdown_table(COLUMNS, [cells(row) for row in rows])]
    for row in rows:
        a = row.agreement
        lines += ["", f"## {row.judge}", "", "Confusion (rows: reference grade, columns: judge grade)", "",
                  "| | " + " | ".join(map(str, a.grades)) + " |", "|" + "---|" * (len(a.grades) + 1)]
        lines += [f"| **{g}** | " + " | ".join(map(str, counts)) + " |" for g, counts in zip(a.grades, a.confusion)]
        lines += ["", f"Label histogram — judge: {a.label_histogram}; reference: {a.qrels_histogram}"]
    return "\n".join(lines) + "\n"


def html_report(rows: Sequence[JudgeRow], title: str, notes: Sequence[str] = ()) -> str:
    return html_page(title, notes, f"""<h2>Agreement with the reference labels</h2>
{html_table(COLUMNS, [cells(row) for row in rows])}<h2>Confusion matrices and label histograms</h2>
<img alt="confusion matrices and label histograms" src="data:image/png;base64,{_plots_png(rows)}">""")


def write_report(rows: Sequence[JudgeRow], out_dir: str | Path, title: str, notes: Sequence[str] = ()) -> Path:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; returns the HTML path."""
    out_dir = Path(out_dir)
    write_atomic(out_dir / "report.md", markdown_report(rows, title, notes))
    write_atomic(out_dir / "report.html", html_report(rows, title, notes))
    return out_dir / "report.html"


def _plots_png(rows: Sequence[JudgeRow]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(2, len(rows), figsize=(4.2 * len(rows), 7.5), squeeze=False)
    for col, row in enumerate(rows):
        a, top, bottom = row.agreement, axes[0][col], axes[1][col]
        matrix = np.array(a.confusion)
        top.imshow(matrix, cmap="Blues")
        for (i, j), count in np.ndenumerate(matrix):
            top.text(j, i, str(count), ha="center", va="center", color="black" if count < matrix.max() / 2 else "white")
        top.set(title=row.judge, xlabel="judge grade", ylabel="reference grade",
                xticks=range(len(a.grades)), yticks=range(len(a.grades)), xticklabels=a.grades, yticklabels=a.grades)
        x = np.arange(len(a.grades))
        bottom.bar(x - 0.2, [a.qrels_histogram.get(g, 0) for g in a.grades], 0.4, label="reference")
        bottom.bar(x + 0.2, [a.label_histogram.get(g, 0) for g in a.grades], 0.4, label="judge")
        bottom.set(xticks=x, xticklabels=a.grades, xlabel="grade", ylabel="pairs", title="label histogram")
        bottom.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()
