"""Gradebook exports, one module per format, registered by name in :data:`FORMATS`.

Each format is a function ``write(results, out)`` taking the latest
:class:`~grader.results.SubmissionResult` of each student.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from grader.export import canvas, gradescope, junit, plain
from grader.results import SubmissionResult

Writer = Callable[[list[SubmissionResult], Path], None]

FORMATS: dict[str, Writer] = {
    "canvas": canvas.write,
    "csv": plain.write_csv,
    "json": plain.write_json,
    "junit": junit.write,
    "gradescope": gradescope.write,
}
