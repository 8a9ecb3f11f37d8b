"""Terminal progress for ``grader audit``: a bar on a terminal, nothing in logs."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextlib.contextmanager
def progress_bar(out: Console, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A ``progress(done, total)`` callback drawing a transient bar, or ``None`` when not a TTY."""
    if quiet or not out.is_terminal:
        yield None
        return
    bar = Progress(TextColumn("grading mutants"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=out, transient=True)
    task = bar.add_task("mutants", total=None)
    with bar:
        yield lambda done, total: bar.update(task, completed=done, total=total)
