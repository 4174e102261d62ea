"""Reports: terminal tables, Markdown and self-contained HTML pages with plots.

``layout.py`` lays out any table; ``agreement.py`` is the agreement report; ``summaries.py`` the lines a labeling
run prints. The ranking report (``rank/experiment.py``) uses the same layout.

>>> from qrelforge.report import markdown_table
>>> markdown_table(["a"], [["1"]])[0]
'| a |'
"""

from __future__ import annotations

from .agreement import COLUMNS, cells, markdown_report, print_table, write_report
from .layout import html_page, html_table, markdown_table, print_rows
from .summaries import adapt_summary, audit_summary, label_summary, panel_summary, route_summary, run_summary

__all__ = [
    "COLUMNS",
    "cells",
    "html_page",
    "html_table",
    "adapt_summary",
    "audit_summary",
    "label_summary",
    "markdown_report",
    "markdown_table",
    "panel_summary",
    "print_rows",
    "print_table",
    "route_summary",
    "run_summary",
    "write_report",
]
