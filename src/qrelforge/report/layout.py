"""Table layout shared by every report: the terminal (rich), Markdown, and a self-contained HTML page.

>>> markdown_table(["judge", "kappa"], [["gpt-4o", "0.34"]])
['| judge | kappa |', '|---|---|', '| gpt-4o | 0.34 |']
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any


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


def png(figure: Any) -> str:
    """A matplotlib figure as base64 PNG for an ``<img>`` (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()
