"""Grade many submissions: prepare once, grade each, record each as soon as it exists.

A submission that cannot even be loaded (broken archive, zip bomb, path
escape) is recorded with every check in ``error`` and the reason, so it shows
up in the gradebook with zero points and never stops the batch. Results
already in the gradebook for the same (student, content, rubric) are reused
unless ``regrade`` is set.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rich.console import Console

from grader import grading, submission
from grader.errors import SubmissionError
from grader.gradebook import Gradebook
from grader.prepare import PreparedCheck, prepare
from grader.results import CheckResult, Status, SubmissionResult
from grader.rubric import Rubric


def grade_batch(paths: list[Path], rubric: Rubric, rubric_hash: str, book: Gradebook, *,
                regrade: bool = False, progress: Console | None = None) -> list[SubmissionResult]:
    """Grade ``paths`` in order; every result is committed before the next one starts."""
    prepared = prepare(rubric, rubric_hash)
    results = []
    for index, path in enumerate(paths, start=1):
        result, reused = grade_one(path, rubric, rubric_hash, prepared, book, regrade)
        results.append(result)
        if progress is not None:
            origin = " (from gradebook)" if reused else ""
            progress.print(f"[{index}/{len(paths)}] {result.student}: "
                           f"{result.score:g}/{result.max_score:g}{origin}")
    return results


def grade_one(path: Path, rubric: Rubric, rubric_hash: str, prepared: list[PreparedCheck],
              book: Gradebook, regrade: bool) -> tuple[SubmissionResult, bool]:
    """Grade one submission path (or reuse its recorded result); record it; return it."""
    student = submission.student_id(path)
    try:
        loaded = submission.load(path, rubric.modules, student=student)
    except SubmissionError as exc:
        result = unloadable(student, path, rubric, rubric_hash, str(exc))
        book.record(result)
        return result, False
    with loaded:
        if not regrade:
            known = book.find(student, loaded.content_hash, rubric_hash)
            if known is not None:
                return known, True
        result = grading.grade(loaded, rubric, rubric_hash, prepared)
    book.record(result)
    return result, False


def unloadable(student: str, path: Path, rubric: Rubric, rubric_hash: str,
               reason: str) -> SubmissionResult:
    """A zero result for a submission that could not be loaded, with the reason on every check."""
    checks = [CheckResult(c.id, c.name, c.function, Status.ERROR, 0.0, c.points,
                          f"submission could not be loaded: {reason}", visibility=c.visibility)
              for c in rubric.checks]
    digest = hashlib.sha256(path.read_bytes() if path.is_file() else str(path).encode())
    return SubmissionResult(student=student, content_hash=digest.hexdigest()[:16],
                            assignment=rubric.assignment, rubric_hash=rubric_hash, checks=checks,
                            versions=grading.versions(), sandbox="not started",
                            notes=[reason])
