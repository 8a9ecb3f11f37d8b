"""Gradebook exports, one module per format, registered by name in :data:`FORMATS`.

A format is a function ``write(results, out)`` taking the effective
:class:`~grader.results.SubmissionResult` of each student and the file to write, decorated
with ``@FORMATS.register(name="...")`` in a module of this package (:mod:`grader.plugins`);
``grader export --format`` offers every registered name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from grader.plugins import Registry
from grader.results import SubmissionResult

Writer = Callable[[list[SubmissionResult], Path], None]

FORMATS: Registry[Writer] = Registry("export format", __name__)
