"""The agreement report: a table of judges against reference labels, their confusion matrices and label histograms,
and, for a student, the calibration of its probabilities (reliability diagrams).

>>> import tempfile
>>> from qrelforge import Pair, judge_row, write_report
>>> row = judge_row("judge", {Pair("q", "a"): 1, Pair("q", "b"): 0}, {Pair("q", "a"): 1, Pair("q", "b"): 1})
>>> write_report([row], tempfile.mkdtemp(), "an example").name
'report.html'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..evaluate.agreement import JudgeRow
from ..evaluate.calibration import CalibrationReport
from ..io.files import write_atomic
from .layout import html_page, html_table, markdown_table, png, print_rows

COLUMNS = ("judge", "n", "missing", "kappa", "kappa>=1", "kappa>=2", "alpha", "accuracy", "spearman", "pairs/s")


def cells(row: JudgeRow) -> list[str]:
    a = row.agreement
    values = (a.cohen_kappa, a.kappa_ge1, a.kappa_ge2, a.krippendorff_alpha, a.accuracy, a.spearman)
    speed = "—" if row.pairs_per_second is None else f"{row.pairs_per_second:,.1f}"
    return [row.judge, str(a.n), str(a.missing), *("n/a" if v is None else f"{v:.4f}" for v in values), speed]


def print_table(rows: Sequence[JudgeRow], title: str) -> None:
    """Print the agreement table to the terminal."""
    print_rows(title, COLUMNS, [cells(row) for row in rows])


def markdown_report(
    rows: Sequence[JudgeRow], title: str, notes: Sequence[str] = (), calibration: CalibrationReport | None = None
) -> str:
    lines = [
        f"# {title}",
        "",
        *(f"- {n}" for n in notes),
        "",
        "## Agreement with the reference labels",
        "",
        *markdown_table(COLUMNS, [cells(row) for row in rows]),
    ]
    if calibration is not None:
        c = calibration
        lines += [
            "",
            "## Calibration of the student's grade probabilities",
            "",
            f"Expected calibration error against the reference grades on {c.pairs} pairs: {c.ece_before:.4f} "
            f"without its temperature, {c.ece_after:.4f} with it (temperature {c.temperature:g}, fitted on its "
            "validation queries).",
            "",
            *markdown_table(
                ["confidence", "pairs", "mean confidence", "accuracy"],
                [
                    [f"{b.low:.1f}-{b.high:.1f}", str(b.pairs), f"{b.confidence:.3f}", f"{b.accuracy:.3f}"]
                    for b in c.after
                    if b.pairs
                ],
            ),
        ]
    for row in rows:
        a = row.agreement
        lines += [
            "",
            f"## {row.judge}",
            "",
            "Confusion (rows: reference grade, columns: judge grade)",
            "",
            "| | " + " | ".join(map(str, a.grades)) + " |",
            "|" + "---|" * (len(a.grades) + 1),
        ]
        lines += [f"| **{g}** | " + " | ".join(map(str, counts)) + " |" for g, counts in zip(a.grades, a.confusion)]
        lines += ["", f"Label histogram — judge: {a.label_histogram}; reference: {a.qrels_histogram}"]
    return "\n".join(lines) + "\n"


def html_report(
    rows: Sequence[JudgeRow], title: str, notes: Sequence[str] = (), calibration: CalibrationReport | None = None
) -> str:
    body = f"""<h2>Agreement with the reference labels</h2>
{html_table(COLUMNS, [cells(row) for row in rows])}<h2>Confusion matrices and label histograms</h2>
<img alt="confusion matrices and label histograms" src="data:image/png;base64,{_plots_png(rows)}">"""
    if calibration is not None:
        c = calibration
        body += f"""<h2>Calibration of the student's grade probabilities</h2>
<p>Expected calibration error on {c.pairs} pairs: {c.ece_before:.4f} without its temperature, {c.ece_after:.4f} with
it (temperature {c.temperature:g}).</p>
<img alt="reliability diagram" src="data:image/png;base64,{_reliability_png(c)}">"""
    return html_page(title, notes, body)


def write_report(
    rows: Sequence[JudgeRow],
    out_dir: str | Path,
    title: str,
    notes: Sequence[str] = (),
    calibration: CalibrationReport | None = None,
) -> Path:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; returns the HTML path."""
    out_dir = Path(out_dir)
    write_atomic(out_dir / "report.md", markdown_report(rows, title, notes, calibration))
    write_atomic(out_dir / "report.html", html_report(rows, title, notes, calibration))
    return out_dir / "report.html"


def _reliability_png(c: CalibrationReport) -> str:
    """Reliability diagram: accuracy against confidence per bin, without and with the temperature."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for bins, name in ((c.before, f"raw (ECE {c.ece_before:.3f})"), (c.after, f"calibrated (ECE {c.ece_after:.3f})")):
        used = [b for b in bins if b.pairs]
        ax.plot([b.confidence for b in used], [b.accuracy for b in used], marker="o", label=name)
    ax.set(
        xlabel="confidence (top grade probability)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title="reliability"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return png(fig)


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
        top.set(
            title=row.judge,
            xlabel="judge grade",
            ylabel="reference grade",
            xticks=range(len(a.grades)),
            yticks=range(len(a.grades)),
            xticklabels=a.grades,
            yticklabels=a.grades,
        )
        x = np.arange(len(a.grades))
        bottom.bar(x - 0.2, [a.qrels_histogram.get(g, 0) for g in a.grades], 0.4, label="reference")
        bottom.bar(x + 0.2, [a.label_histogram.get(g, 0) for g in a.grades], 0.4, label="judge")
        bottom.set(xticks=x, xticklabels=a.grades, xlabel="grade", ylabel="pairs", title="label histogram")
        bottom.legend()
    fig.tight_layout()
    return png(fig)
