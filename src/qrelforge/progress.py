"""One progress bar for every long loop (rich): count, rate, ETA, and a short status text."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(description: str, total: int, unit: str, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n, status="")``; draws on stderr, or nothing at all when ``enabled`` is false."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: object) -> Text:
            return Text(f"{task.speed:.1f} {unit}/s" if task.speed else "")

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(), TimeRemainingColumn(),
               TextColumn("{task.fields[status]}"))
    with Progress(*columns, console=Console(stderr=True), disable=not enabled, transient=False) as bar:
        task = bar.add_task(description, total=total, status="")

        def advance(n: int, status: str = "") -> None:
            bar.update(task, advance=n, status=status)

        yield advance
