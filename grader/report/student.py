"""One student's report: the view of a :class:`SubmissionResult` that the templates draw.

The HTML page has a header (student, assignment, total with a bar, submission
hash, graded at, versions, device), a one-line overview of every check, and
one section per check (badge, points, message, figures, time against the
limit, the student's captured output collapsed). The Markdown rendering says
the same in text, for terminals and CI summaries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checks import KINDS
from grader.report.environment import ENV
from grader.results import CheckResult, Status, SubmissionResult

# details that are not numbers worth a line of their own
_UNLISTED = {"traceback", "notes", "seconds", "case_credits", "rel_errors", "forward_rel_error",
             "rel_error_threshold", "confusion_matrix", "class_names", "epoch_losses",
             "diagnosis", "failed_case", "cases", "cases_passed", "credit", "fraction", "summary"}
_MAX_NUMBERS = 10


@dataclass
class CheckView:
    """One check as the report shows it."""

    result: CheckResult
    figures: list[Any] = field(default_factory=list)
    limit_s: float | None = None
    numbers: list[tuple[str, str]] = field(default_factory=list)
    instructor: bool = False  # the instructor's copy shows what hidden checks printed

    @property
    def hidden(self) -> bool:
        return self.result.visibility != "visible"

    @property
    def withheld(self) -> bool:
        """Whether the student's own output is left out: code that prints its inputs would
        show a hidden check's cases in the student's report."""
        return self.hidden and not self.instructor

    @property
    def stdout(self) -> str:
        return "" if self.withheld else self.result.stdout

    @property
    def time_percent(self) -> float | None:
        """Share of the time limit used, in percent (capped at 100 for the bar)."""
        if not self.limit_s:
            return None
        return min(100.0, 100.0 * self.result.duration_s / self.limit_s)

    @property
    def stdout_lines(self) -> int:
        return self.stdout.count("\n") + (not self.stdout.endswith("\n"))

    @property
    def traceback(self) -> str:
        value = self.result.details.get("traceback")
        return value if isinstance(value, str) and not self.withheld else ""

    @property
    def cases(self) -> str:
        details = self.result.details
        if "cases" in details and "cases_passed" in details:
            return f"{details['cases_passed']} of {details['cases']} cases passed"
        return ""


@dataclass
class StudentView:
    """A whole submission as the report shows it."""

    result: SubmissionResult
    checks: list[CheckView]
    href: str = ""

    @property
    def percent(self) -> float:
        r = self.result
        return 100.0 * r.score / r.max_score if r.max_score else 0.0

    @property
    def counts(self) -> list[tuple[str, int]]:
        found = Counter(c.status.value for c in self.result.checks)
        return [(s.value, found[s.value]) for s in Status if found[s.value]]

    @property
    def troubled(self) -> list[CheckView]:
        """Checks that errored, timed out or ran out of memory."""
        bad = (Status.ERROR, Status.TIMEOUT, Status.MEMORY)
        return [c for c in self.checks if c.result.status in bad]


def student_view(result: SubmissionResult, arrays: dict[str, dict[str, np.ndarray]] | None = None,
                 href: str = "", instructor: bool = False,
                 detailed: bool = True) -> StudentView:
    """The view of ``result``; ``arrays`` are its artifacts (check id → name → array).

    ``instructor`` keeps what the student's code printed during hidden checks (it can carry
    their inputs), which the student's own copy leaves out. Without ``detailed`` no figure is
    drawn nor number listed (a line of the class summary shows neither).
    """
    arrays = arrays or {}
    checks = []
    for check in result.checks:
        checks.append(CheckView(
            result=check,
            figures=check_figures(check, arrays.get(check.id, {})) if detailed else [],
            limit_s=check.limit_s,
            numbers=_numbers(check) if detailed and check.visibility == "visible" else [],
            instructor=instructor,
        ))
    return StudentView(result, checks, href)


def check_figures(check: CheckResult, arrays: dict[str, np.ndarray]) -> list[Any]:
    """The figures ``check``'s kind draws from its artifacts ``arrays`` and details."""
    kind = KINDS.get(check.kind)
    figures = kind.figures(check, arrays) if kind else []
    return [figure for figure in figures if figure is not None]


def _numbers(check: CheckResult) -> list[tuple[str, str]]:
    """Scalar details (``max_abs_error 0.0123``...) worth showing beside the message."""
    shown = []
    for key, value in check.details.items():
        if key in _UNLISTED or isinstance(value, bool):
            continue
        if isinstance(value, float):
            shown.append((key, f"{value:.4g}"))
        elif isinstance(value, int):
            shown.append((key, str(value)))
        elif isinstance(value, list) and len(value) <= 4 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            shown.append((key, "(" + ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v)
                                               for v in value) + ")"))
    return shown[:_MAX_NUMBERS]


def render_student_html(view: StudentView, summary_href: str | None = "index.html") -> str:
    return ENV.get_template("student.html.j2").render(v=view, r=view.result,
                                                      summary_href=summary_href)


def render_student_markdown(view: StudentView) -> str:
    return ENV.get_template("student.md.j2").render(v=view, r=view.result)
