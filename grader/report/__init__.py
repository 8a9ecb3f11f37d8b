"""Reports: per-student HTML (with figures) and Markdown, and the class summary (``index.html``).

Pages are static and self-contained: no script, no request leaves them (figures
are embedded ``data:`` PNGs, a Content-Security-Policy forbids anything else),
and everything a student controls is escaped. See :mod:`grader.report.student`,
:mod:`grader.report.summary` and :mod:`grader.figures`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from grader.report.student import (render_student_html, render_student_markdown,
                                   student_view)
from grader.report.summary import render_summary_html, summarize
from grader.results import SubmissionResult

__all__ = ["render_markdown", "render_reports", "report_filename", "SUMMARY_FILE"]

SUMMARY_FILE = "index.html"
Artifacts = Callable[[SubmissionResult], dict[str, dict[str, np.ndarray]]]


def report_filename(result: SubmissionResult, suffix: str = ".html") -> str:
    """A safe file name for a student's report (student ids come from file names)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", result.student).strip("._") or "student"
    return f"{result.assignment}--{safe}{suffix}"


def render_markdown(result: SubmissionResult) -> str:
    """The result as Markdown, for terminals and CI summaries (no figures)."""
    return render_student_markdown(student_view(result, None))


def render_reports(results: list[SubmissionResult], out: Path, artifacts: Artifacts | None = None,
                   instructor: bool = False,
                   similar: dict[str, list[tuple]] | None = None) -> list[Path]:
    """Write each student's report (``.html`` and ``.md``) and the class summary; return the files.

    ``artifacts(result)`` gives the arrays of a result's figures (e.g.
    :meth:`grader.store.gradebook.Gradebook.artifacts`); each check's time limit and thresholds
    are in its recorded details. The reports are the students' unless
    ``instructor``: then they also show what the code printed during hidden checks.
    ``similar`` maps an assignment to its flagged pairs ``(a, b, share_a, share_b, page)``
    (:meth:`grader.store.gradebook.Gradebook.similar_pairs`), ranked in the class summary.
    """
    out.mkdir(parents=True, exist_ok=True)
    written, views = [], []
    for result in results:
        view = student_view(result, artifacts(result) if artifacts else None,
                            report_filename(result), instructor)
        html_path, md_path = out / view.href, out / report_filename(result, ".md")
        html_path.write_text(render_student_html(view, SUMMARY_FILE), encoding="utf-8")
        md_path.write_text(render_student_markdown(view), encoding="utf-8")
        written += [html_path, md_path]
        for check in view.checks:  # the summary needs no figures: let them go
            check.figures = []
        views.append(view)
    summary = out / SUMMARY_FILE
    pairs = {assignment: [(a, b, share_a, share_b, os.path.relpath(page, out))
                          for a, b, share_a, share_b, page in found]
             for assignment, found in (similar or {}).items()}
    summary.write_text(render_summary_html(summarize(views), pairs), encoding="utf-8")
    return written + [summary]
