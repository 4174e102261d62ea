"""One progress display for every long loop: a rich bar on a terminal; in a pipe or a log, a plain line every few
seconds (done/total, rate, ETA), or one JSON object per line for scripts (``QRELFORGE_LOG=json``, the CLI's
``--log-json``).

>>> import io
>>> out = io.StringIO()
>>> with progress_bar("labeling", 10, "pairs", stream=out, every=0) as advance:
...     advance(10)
>>> out.getvalue().startswith("labeling: 10/10 pairs (100%)")
True

A resumed loop shows what it already did without counting it in the rate or the ETA (``done``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

LOG_ENV = "QRELFORGE_LOG"  # "json": progress lines as JSON objects
EVERY_SECONDS = 5.0  # a plain progress line at most this often


@contextlib.contextmanager
def progress_bar(
    description: str,
    total: int,
    unit: str,
    enabled: bool = True,
    stream: IO[str] | None = None,
    every: float = EVERY_SECONDS,
    done: int = 0,
) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n, status="")``: a live bar on a terminal, plain or JSON lines elsewhere (on stderr), or
    nothing at all when ``enabled`` is false; ``done`` units were done by an earlier run (shown, not timed)."""
    stream = stream or sys.stderr
    if not enabled:
        yield lambda n, status="": None
    elif stream.isatty() and os.environ.get(LOG_ENV) != "json":
        with _bar(description, total, unit, stream, done) as advance:
            yield advance
    else:
        with _lines(description, total, unit, stream, every, os.environ.get(LOG_ENV) == "json", done) as advance:
            yield advance


@contextlib.contextmanager
def _lines(
    description: str, total: int, unit: str, stream: IO[str], every: float, as_json: bool, before: int
) -> Iterator[Callable[..., None]]:
    start = last = time.monotonic()
    done, note = before, "resumed" if before else ""

    def line(final: bool = False) -> None:
        elapsed = time.monotonic() - start
        rate = (done - before) / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else None
        if as_json:
            row = {
                "task": description,
                "done": done,
                "total": total,
                "unit": unit,
                "rate": round(rate, 2),
                "eta_seconds": round(eta, 1) if eta is not None else None,
                "elapsed_seconds": round(elapsed, 1),
                "status": note,
                "final": final,
            }
            stream.write(json.dumps(row) + "\n")
        else:
            share = f" ({done / total:.0%})" if total else ""
            timing = f", ETA {_clock(eta)}" if eta is not None and not final else f", {_clock(elapsed)} in all"
            stream.write(
                f"{description}: {done}/{total} {unit}{share}, {rate:.1f} {unit}/s{timing}"
                f"{f'; {note}' if note else ''}\n"
            )
        stream.flush()

    def advance(n: int, status: str = "") -> None:
        nonlocal done, last, note
        done, note = done + n, status or note
        if time.monotonic() - last >= every:
            last = time.monotonic()
            line()

    yield advance
    line(final=True)


@contextlib.contextmanager
def _bar(description: str, total: int, unit: str, stream: IO[str], done: int) -> Iterator[Callable[..., None]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f} {unit}/s" if task.speed else "")

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=Console(file=stream), transient=False) as bar:
        task = bar.add_task(description, total=total, completed=done, status="resumed" if done else "")
        yield lambda n, status="": bar.update(task, advance=n, status=status)


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
