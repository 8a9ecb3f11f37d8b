"""Terminal output: the coloured results table and batch progress (plain when not a TTY)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from grader.results import Status, SubmissionResult

_STYLE = {Status.PASSED: "green", Status.FAILED: "red", Status.ERROR: "red",
          Status.TIMEOUT: "magenta", Status.MEMORY: "magenta", Status.SKIPPED: "yellow"}


def console(stderr: bool = False) -> Console:
    """A rich console; colours only on a terminal, no wrapping of long lines in logs."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, highlight=False, soft_wrap=not stream.isatty())


def print_result(result: SubmissionResult, out: Console, show_output: bool = True) -> None:
    """One row per check: status, points, message; then the student's output, if any."""
    table = Table(title=f"{result.assignment} — {result.student}", title_justify="left",
                  show_lines=False, expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("message", overflow="fold")
    for check in result.checks:
        style = _STYLE[check.status]
        table.add_row(check.id, f"[{style}]{check.status.value}[/]",
                      f"{check.score:g}/{check.max_score:g}", _escape(check.message))
    out.print(table)
    out.print(f"[bold]total {result.score:g}/{result.max_score:g}[/]  "
              f"(sandbox: {result.sandbox}; {result.protection})")
    for note in result.notes:
        out.print(f"note: {_escape(note)}")
    if show_output:
        for check in result.checks:
            if check.stdout.strip():
                out.rule(f"output of your code during {check.id}", style="dim")
                out.print(_escape(check.stdout.rstrip()[-3000:]))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
