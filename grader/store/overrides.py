"""The effective grade: an autograded result with the instructor's overrides, adjustments and
extensions applied.

An **override** replaces the points of one check (the autograder's verdict stays beside it);
an **adjustment** (an override without a check) adds points, and optionally a maximum, to
the whole submission, e.g. for a written part. An **extension** moves the due date by some
days; lateness is recomputed from the submission time the platform recorded and the rubric's
late policy stored in the result, never from the clock. All three are kept by (student,
assignment), not by submission, so they survive every regrade; each carries who made it,
when and why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from grader.store import late
from grader.store.extensions import Extension
from grader.results import CheckResult, Status, SubmissionResult

ADJUSTMENT_ID = "adjustment"


@dataclass(frozen=True)
class Override:
    """One row of the override log. ``check_id == ""`` is an adjustment; ``score is None``
    clears the earlier override of that check (or the adjustment)."""

    student: str
    assignment: str
    check_id: str
    score: float | None
    out_of: float
    reason: str
    by: str
    at: str

    @property
    def describes(self) -> str:
        """``overridden by … on …: reason`` (the audit trail in one line)."""
        verb = "adjusted" if not self.check_id else "overridden"
        return f"{verb} by {self.by} on {self.at[:10]}: {self.reason}"


def apply(result: SubmissionResult, overrides: list[Override],
          extension: Extension | None) -> SubmissionResult:
    """A copy of ``result`` as it counts: each override's check re-scored (its message says
    by whom and why, and what the autograder gave), the adjustment as an extra line, and
    lateness recomputed with the extension. ``result`` itself is left unchanged."""
    checks = list(result.checks)
    notes = list(result.notes)
    for override in overrides:
        index = next((i for i, c in enumerate(checks) if c.id == override.check_id), None)
        if not override.check_id:
            checks.append(_adjustment(override))
        elif index is not None:
            checks[index] = _override_check(checks[index], override)
        else:
            notes.append(f"an override of check {override.check_id!r} is not applied: "
                         "the rubric that graded this submission has no such check")
    effective = replace(result, checks=checks, notes=notes)
    return _extend(effective, extension) if extension is not None else effective


def _override_check(check: CheckResult, override: Override) -> CheckResult:
    assert override.score is not None  # standing overrides only: a clearing row is none of them
    autograded = f"autograder: {check.score:g}/{check.max_score:g}, {check.status.value}"
    return replace(check, score=float(override.score),
                   message=f"{override.describes} ({autograded}: {check.message})",
                   override={"score": override.score, "autograded_score": check.score,
                             "autograded_status": check.status.value, "by": override.by,
                             "at": override.at, "reason": override.reason})


def _adjustment(override: Override) -> CheckResult:
    assert override.score is not None  # standing overrides only
    return CheckResult(
        id=ADJUSTMENT_ID, name="Instructor's adjustment", target="", status=Status.PASSED,
        score=float(override.score), max_score=float(override.out_of),
        message=override.describes,
        override={"score": override.score, "out_of": override.out_of, "by": override.by,
                  "at": override.at, "reason": override.reason})


def _extend(result: SubmissionResult, extension: Extension) -> SubmissionResult:
    policy = late.stored_policy(result)
    moment = late.parse_time(result.submitted_at)
    if policy is None or moment is None:
        return replace(result, notes=[*result.notes, f"an extension of {extension.days:g} day(s) "
                                      f"is recorded ({extension.reason}); no late penalty applies "
                                      "to this result"])
    days, fraction = late.penalty(policy, moment, extension.days)
    result = replace(result, late_days=days, late_penalty=fraction,
                     notes=[n for n in result.notes if not n.startswith(late.LATE_NOTE)])
    return replace(result, notes=[*result.notes, late.extension_note(result, extension)])
