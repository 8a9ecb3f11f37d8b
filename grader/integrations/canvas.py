"""Grade passback to Canvas through its REST API (Submissions API), with ``canvasapi``.

``grader canvas push`` sends each student's *effective* grade (overrides, adjustments and
extensions applied) and a one-line comment. Students are matched to Canvas users by login
(``login_id``, what the Canvas gradebook CSV calls *SIS Login ID*; submissions are named by
login), by ``sis_user_id``, or through a CSV ``student,canvas_user_id``. The grade is sent as
points when the Canvas assignment is worth what the rubric is, otherwise as a percentage,
which Canvas scales to its own points. The token is read from ``CANVAS_API_TOKEN`` only,
never from the command line (where ``ps`` and shell history would show it).

Calls, as Canvas documents them: ``GET /api/v1/courses/:id``, ``GET
/api/v1/courses/:id/assignments/:id``, ``GET /api/v1/courses/:id/search_users`` (students,
paginated), and per student ``GET`` then ``PUT
/api/v1/courses/:course_id/assignments/:assignment_id/submissions/:user_id`` with
``submission[posted_grade]`` and ``comment[text_comment]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from grader.store.csv_input import read_rows
from grader.errors import GraderError
from grader.results import Status, SubmissionResult

TOKEN_ENV = "CANVAS_API_TOKEN"
URL_ENV = "CANVAS_API_URL"
MATCH_BY = ("login_id", "sis_user_id")


@dataclass(frozen=True)
class Posting:
    """One grade to send: our student, the Canvas user it maps to, the grade and the comment."""

    student: str
    user_id: int | None  # None: no Canvas user matches (reported, not sent)
    grade: str  # Canvas's posted_grade: "16.5" points or "75%"
    comment: str


def token() -> str:
    value = os.environ.get(TOKEN_ENV, "").strip()
    if not value:
        raise GraderError(f"set {TOKEN_ENV} to a Canvas access token (Account → Settings → "
                          "New access token); it is never taken from the command line")
    return value


def read_user_map(path: Path) -> dict[str, int]:
    """``student -> Canvas user id`` from a CSV with columns ``student,canvas_user_id``."""
    return dict(read_rows(path, "--map", lambda row: (row["student"].strip(),
                                                      int(row["canvas_user_id"])),
                          "columns 'student,canvas_user_id' with a numeric Canvas user id"))


def comment(result: SubmissionResult) -> str:
    """One line for the student: checks passed, the late penalty and any instructor changes."""
    passed = sum(c.status == Status.PASSED for c in result.checks if c.id != "adjustment")
    graded = sum(1 for c in result.checks if c.id != "adjustment")
    parts = [f"Autograder ({result.assignment}): {result.score:g}/{result.max_score:g}, "
             f"{passed} of {graded} checks passed"]
    if result.late_days:
        parts.append(f"{result.late_days} day(s) late: −{result.late_penalty:.0%}")
    changed = [c.id for c in result.checks if c.override]
    if changed:
        parts.append(f"changed by the instructor: {', '.join(changed)}")
    return "; ".join(parts) + "."


def plan(results: list[SubmissionResult], users: dict[str, int],
         points_possible: float | None) -> list[Posting]:
    """What would be sent for each result: ``users`` maps our student ids to Canvas user ids."""
    postings = []
    for result in results:
        if points_possible is not None and abs(points_possible - result.max_score) < 1e-9:
            grade = f"{result.score:g}"
        else:
            grade = f"{100 * result.score / result.max_score:.2f}%" if result.max_score else "0%"
        postings.append(Posting(result.student, users.get(result.student), grade, comment(result)))
    return postings


class CanvasCourse:
    """One course and assignment on a Canvas instance (a thin layer over ``canvasapi``)."""

    def __init__(self, url: str, access_token: str, course_id: int, assignment_id: int):
        from canvasapi import Canvas
        from canvasapi.exceptions import CanvasException

        self._errors = (CanvasException, OSError)
        try:
            self._course = Canvas(url, access_token).get_course(course_id)
            self.assignment = self._course.get_assignment(assignment_id)
        except self._errors as exc:
            raise GraderError(f"Canvas at {url}: cannot open course {course_id}, assignment "
                              f"{assignment_id} ({_reason(exc)})") from None

    @property
    def points_possible(self) -> float | None:
        value = getattr(self.assignment, "points_possible", None)
        return float(value) if value is not None else None

    def students(self, match_by: str) -> dict[str, int]:
        """``login (or SIS id) -> Canvas user id`` of the course's students."""
        try:
            users = list(self._course.get_users(enrollment_type=["student"], per_page=100))
        except self._errors as exc:
            raise GraderError(f"Canvas: cannot list the course's students ({_reason(exc)})") from None
        return {str(getattr(u, match_by)): int(u.id) for u in users if getattr(u, match_by, None)}

    def post(self, posting: Posting) -> str | None:
        """Send one grade and comment; ``None`` on success, else why it failed."""
        try:
            submission = self.assignment.get_submission(posting.user_id)
            submission.edit(submission={"posted_grade": posting.grade},
                            comment={"text_comment": posting.comment})
        except self._errors as exc:
            return _reason(exc)
        return None


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
