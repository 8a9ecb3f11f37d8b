"""Staff changes to a grade, with one set of rules for every way of making them.

An override (a check's points set by hand), an adjustment (points added to the whole
submission, without a check), clearing either, an extension, and publishing an assignment
(its hidden checks and manual grades shown to students): each is validated before
anything is written (a wrong student, assignment, check or score is one sentence and leaves
the gradebook as it was), recorded with who made it, when and why, and answered with the
effective grade it leads to. ``grader override`` / ``grader extend`` and the web application
call these.
"""

from __future__ import annotations

from grader.errors import GraderError
from grader.results import SubmissionResult
from grader.stamps import now
from grader.store.extensions import Extension
from grader.store.gradebook import Gradebook
from grader.store.overrides import Override


def override(book: Gradebook, student: str, assignment: str | None, check_id: str,
             score: float | None, reason: str | None, by: str, out_of: float = 0.0,
             clear: bool = False) -> tuple[str, SubmissionResult]:
    """Record an override of ``check_id`` (``""``: an adjustment worth ``out_of`` more) or,
    with ``clear``, remove the active one; the assignment it was about and the effective grade."""
    name = assignment_of(book, student, assignment)
    latest = book.effective_of(student, name, staff=True)  # its manual items are checks too
    active = {o.check_id: o for o in book.overrides(student, name)}
    if clear:
        if score is not None:
            raise GraderError("give either --score or --clear, not both")
        if check_id not in active:
            raise GraderError(f"{student} has no active {what(check_id)} on {name} to clear")
    else:
        _validate(latest, check_id, score, reason)
    book.add_override(Override(student, name, check_id, None if clear else score,
                               0.0 if clear else (out_of if not check_id else 0.0),
                               reason or "cleared", by, now()))
    return name, effective(book, student, name)


def extend(book: Gradebook, student: str, assignment: str | None, days: float, reason: str,
           by: str) -> tuple[str, SubmissionResult]:
    """Record an extension of ``days`` (0 removes it); the assignment and the effective grade."""
    if days < 0:
        raise GraderError(f"--days {days:g}: an extension is 0 days or more")
    if not reason.strip():
        raise GraderError("give a --reason: it is recorded and shown to the student")
    name = assignment_of(book, student, assignment)
    book.add_extension(Extension(student, name, days, reason, by, now()))
    return name, effective(book, student, name)


def publish(book: Gradebook, assignment: str, by: str, partial: bool = False) -> None:
    """Let students see ``assignment``'s hidden checks and manual grades; refused (one sentence)
    while manual grades are missing, unless ``partial``."""
    results = book.latest(assignment)
    if not results:
        raise GraderError(f"{book.path} has no results for {assignment}")
    graded_items = book.graded_items(assignment)
    missing = sum(item["id"] not in graded_items.get(r.student, ())
                  for r in results for item in r.manual)
    if missing and not partial:
        raise GraderError(f"{missing} manual grade(s) of {assignment} are missing: grade them, "
                          "or publish explicitly as partial")
    book.publish(assignment, by, now())


def effective(book: Gradebook, student: str, assignment: str) -> SubmissionResult:
    """The effective grade of ``student`` on ``assignment``, which :func:`assignment_of` found results of."""
    grade = book.effective_of(student, assignment)
    assert grade is not None
    return grade


def assignment_of(book: Gradebook, student: str, assignment: str | None) -> str:
    """The assignment a change for ``student`` is about, or a sentence saying what is wrong."""
    names = book.assignments_of(student)
    if not names:
        known = sorted(book.students())
        hint = f" (it holds {len(known)}: {', '.join(known[:5])}{'…' if len(known) > 5 else ''})"
        raise GraderError(f"{book.path} has no results for student {student!r}"
                          + (hint if known else ""))
    if assignment is None:
        if len(names) > 1:
            raise GraderError(f"{student} has results for {', '.join(names)}: name one with "
                              "--assignment")
        return names[0]
    if assignment not in names:
        raise GraderError(f"{student} has no results for {assignment} (only {', '.join(names)})")
    return assignment


def _validate(latest, check_id: str, score: float | None, reason: str | None) -> None:
    if score is None:
        raise GraderError("give the new points with --score (or --clear)")
    if not (reason or "").strip():
        raise GraderError("give a --reason: it is recorded and shown to the student")
    if not check_id:
        return
    checks = {c.id: c for c in latest.checks}
    if check_id not in checks:
        raise GraderError(f"{latest.assignment} has no check {check_id!r} (its checks: "
                          f"{', '.join(checks)})")
    if not 0 <= score <= checks[check_id].max_score:
        raise GraderError(f"--score {score:g} is outside 0..{checks[check_id].max_score:g}, "
                          f"the points of {check_id}; use an adjustment (no CHECK) for extra "
                          "points")


def what(check_id: str) -> str:
    return f"override of {check_id}" if check_id else "adjustment"
