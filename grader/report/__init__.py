"""Per-student HTML reports and an index, rendered with Jinja2 (all text autoescaped)."""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from grader.results import SubmissionResult

_ENV = Environment(loader=PackageLoader("grader.report", "templates"),
                   autoescape=select_autoescape(["html.j2"], default_for_string=False),
                   trim_blocks=True, lstrip_blocks=True)
_ENV.filters["md_cell"] = lambda text: (str(text).replace("|", "\\|").replace("\n", " ")
                                        .replace("<", "&lt;").replace(">", "&gt;"))
_ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "timeout": "⏱️", "memory": "🧠",
          "skipped": "⏭️"}


def report_filename(result: SubmissionResult) -> str:
    """A safe file name for a student's report (student ids come from file names)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", result.student).strip("._") or "student"
    return f"{result.assignment}--{safe}.html"


def render_markdown(result: SubmissionResult) -> str:
    """The result as Markdown (a table of checks), for terminals and CI summaries."""
    return _ENV.get_template("student.md.j2").render(r=result, icons=_ICONS)


def render_reports(results: list[SubmissionResult], out: Path) -> list[Path]:
    """Write one report per result and an ``index.html``; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    student_template = _ENV.get_template("student.html.j2")
    for result in results:
        path = out / report_filename(result)
        path.write_text(student_template.render(r=result), encoding="utf-8")
        written.append(path)
    index = out / "index.html"
    rows = [(r, report_filename(r)) for r in results]
    index.write_text(_ENV.get_template("index.html.j2").render(rows=rows), encoding="utf-8")
    return written + [index]
