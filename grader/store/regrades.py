"""Regrade requests: a student asks, the staff answer, and everyone sees where it stands.

A student files a request on a check (or an item graded by hand) they can see, with a message;
there is at most one open request per check. A member of staff answers it: **accepted** with
new points, which are recorded as an override through :func:`grader.store.changes.override`
(the same rules, history and effect as ``grader override``: reports, exports and Canvas carry
them), or **rejected** with a reason. Requests and answers stay in the gradebook: the student's
page shows their status, the staff's page of the student lists them beside the overrides.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.errors import GraderError
from grader.stamps import now
from grader.store import changes
from grader.store.database import Tables
from grader.store.gradebook import Gradebook

MAX_MESSAGE = 2000  # characters of a request or an answer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS regrade_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL, assignment TEXT NOT NULL, check_id TEXT NOT NULL,
    message TEXT NOT NULL, made_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open', answer TEXT NOT NULL DEFAULT '',
    answered_by TEXT NOT NULL DEFAULT '', answered_at TEXT NOT NULL DEFAULT '',
    new_score REAL);
CREATE INDEX IF NOT EXISTS regrade_requests_by_state ON regrade_requests (state, id);
"""


@dataclass(frozen=True)
class RegradeRequest:
    """One request: ``state`` is ``open``, ``accepted`` (with ``new_score``) or ``rejected``."""

    id: int
    student: str
    assignment: str
    check_id: str
    message: str
    made_at: str
    state: str
    answer: str
    answered_by: str
    answered_at: str
    new_score: float | None


class Regrades(Tables):
    """The regrade requests of the gradebook at ``path``."""

    SCHEMA = _SCHEMA

    def file(self, student: str, assignment: str, check_id: str, message: str,
             shown_checks: set[str]) -> RegradeRequest:
        """File ``student``'s request on ``check_id``, one of the checks they can see
        (``shown_checks``); one sentence if it cannot be filed."""
        message = message.strip()
        if check_id not in shown_checks:
            raise GraderError(f"{assignment} has no check {check_id!r} that you can see")
        if not message:
            raise GraderError("say what you think was graded wrongly, and why")
        if len(message) > MAX_MESSAGE:
            raise GraderError(f"keep the message under {MAX_MESSAGE} characters")
        if any(r.state == "open" and r.check_id == check_id for r in self.of(student, assignment)):
            raise GraderError(f"you already have an open request on {check_id}: wait for its answer")
        with self._db:
            number = self._db.execute(
                "INSERT INTO regrade_requests (student, assignment, check_id, message, made_at) "
                "VALUES (?, ?, ?, ?, ?)", (student, assignment, check_id, message, now())).lastrowid
        assert number is not None
        return self.get(number)

    def accept(self, number: int, book: Gradebook, score: float, answer: str,
               by: str) -> RegradeRequest:
        """Accept request ``number`` with ``score`` points, recorded as an override of its check
        (the override's rules apply: points within the check's, a reason)."""
        request = self._open(number)
        reason = _checked(answer) or "regrade request accepted"
        changes.override(book, request.student, request.assignment, request.check_id, score,
                         f"regrade request #{number}: {reason}", by)
        return self._answer(number, "accepted", reason, by, score)

    def reject(self, number: int, answer: str, by: str) -> RegradeRequest:
        """Reject request ``number``; the reason is required (the student reads it)."""
        self._open(number)
        if not _checked(answer):
            raise GraderError("give the reason for rejecting it: the student reads it")
        return self._answer(number, "rejected", _checked(answer), by, None)

    def get(self, number: int) -> RegradeRequest:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM regrade_requests WHERE id = ?",
                               (number,)).fetchone()
        if row is None:
            raise GraderError(f"no regrade request number {number}")
        return RegradeRequest(*row)

    def of(self, student: str, assignment: str | None = None) -> list[RegradeRequest]:
        """``student``'s requests (on ``assignment``, or all), newest first."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM regrade_requests WHERE student = ? AND "
            "(? IS NULL OR assignment = ?) ORDER BY id DESC", (student, assignment, assignment))
        return [RegradeRequest(*row) for row in rows]

    def waiting(self) -> list[RegradeRequest]:
        """The open requests, oldest first (the staff's queue)."""
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM regrade_requests WHERE state = 'open' "
                                "ORDER BY id")
        return [RegradeRequest(*row) for row in rows]

    def _open(self, number: int) -> RegradeRequest:
        request = self.get(number)
        if request.state != "open":
            raise GraderError(f"regrade request #{number} was {request.state} by "
                              f"{request.answered_by} at {request.answered_at}")
        return request

    def _answer(self, number: int, state: str, answer: str, by: str,
                score: float | None) -> RegradeRequest:
        with self._db:
            self._db.execute("UPDATE regrade_requests SET state = ?, answer = ?, answered_by = ?, "
                             "answered_at = ?, new_score = ? WHERE id = ? AND state = 'open'",
                             (state, answer, by, now(), score, number))
        return self.get(number)


def _checked(answer: str) -> str:
    """``answer`` without its surrounding blanks, or one sentence when it is too long."""
    if len(answer.strip()) > MAX_MESSAGE:
        raise GraderError(f"keep the answer under {MAX_MESSAGE} characters")
    return answer.strip()


_COLUMNS = ("id, student, assignment, check_id, message, made_at, state, answer, answered_by, "
            "answered_at, new_score")
