"""Manual items in a grade: what a person gave each item, held until the assignment is
published.

A rubric's ``manual:`` items (:class:`~grader.rubric.model.ManualItem`) are recorded with each
result at grading time; a grader's choice for one item is a :class:`ManualGrade`, appended to a
log (the newest counts, and an empty one clears it). :func:`apply` turns the items into lines of
the result: graded, or "not graded yet"; before the assignment is published they are left out
of what students and exports see.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from grader.results import CheckResult, Status, SubmissionResult

KIND = "manual"


@dataclass(frozen=True)
class ManualGrade:
    """One grader's choice for one item of one student's submission; ``points`` ``None``
    clears the item's grade. ``level`` is the label of the level picked ("" for typed points)."""

    student: str
    assignment: str
    item_id: str
    points: float | None
    level: str
    comment: str
    by: str
    at: str


def apply(result: SubmissionResult, grades: dict[str, ManualGrade], held: bool) -> SubmissionResult:
    """``result`` with a line per manual item it was graded with; ``held``: the assignment is
    not published and the reader is not staff, so the items stay out and a note says so."""
    if not result.manual:
        return result
    if held:
        return replace(result, notes=[*result.notes, f"{len(result.manual)} part(s) graded by "
                                      "the course staff will count once they are published"])
    return replace(result, checks=[*result.checks, *(_line(item, grades.get(item["id"]))
                                                     for item in result.manual)])


def _line(item: dict, grade: ManualGrade | None) -> CheckResult:
    points = float(item["points"])
    if grade is None or grade.points is None:
        return CheckResult(item["id"], item["name"], "", Status.SKIPPED, 0.0, points,
                           "not graded yet", kind=KIND)
    said = "; ".join(part for part in (grade.level, grade.comment) if part) or "graded"
    return CheckResult(item["id"], item["name"], "",
                       Status.PASSED if grade.points >= points else Status.FAILED,
                       round(grade.points, 6), points, said, kind=KIND,
                       details={"graded_by": grade.by, "graded_at": grade.at})
