"""Batch progress: a live bar with counts, ETA and a failure tally on a terminal; plain lines in logs."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grader.results import SubmissionResult


class BatchProgress:
    """Reports each finished submission; silent when ``quiet``. ``on_advance(result)`` hears of
    each too (the gradebook's batch log, which the staff application shows live)."""

    def __init__(self, total: int, out: Console, quiet: bool = False,
                 on_advance: Callable[[SubmissionResult], None] | None = None):
        self._out, self._quiet, self._total = out, quiet, total
        self._on_advance = on_advance
        self._done = self._failed = 0
        self._bar = None
        if not quiet and out.is_terminal:
            self._bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("[red]{task.fields[failed]} not full marks"),
                                 TimeRemainingColumn(), console=out, transient=True)
            self._task = self._bar.add_task("grading", total=total, failed=0)
            self._bar.start()

    def advance(self, result: SubmissionResult, reused: bool) -> None:
        if self._on_advance is not None:
            self._on_advance(result)
        self._done += 1
        self._failed += result.score < result.max_score
        if self._bar is not None:
            self._bar.update(self._task, advance=1, failed=self._failed)
        elif not self._quiet:
            origin = " (from gradebook)" if reused else ""
            late = f" (late {result.late_days} d, −{result.late_penalty:.0%})" if result.late_days else ""
            self._out.print(f"[{self._done}/{self._total}] {result.student}: "
                            f"{result.score:g}/{result.max_score:g}{late}{origin}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
