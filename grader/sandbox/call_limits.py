"""How long one call of the student's code may run: calibrated, and on probation after a hang.

A rubric's ``timeout_s`` is written for the slowest honest code on the biggest case; most
cases are far smaller, and a hang costs the whole limit case after case. Two trusted-side
rules shorten a call's limit without shortening what honest code needs:

- **Calibration.** Preparation times the reference on each case on this machine
  (:attr:`~grader.prepare.prepared.PreparedCase.reference_s`). A call of a kind whose request
  does the reference's work (:attr:`~grader.checks.base.CheckKind.calibrated`) gets
  ``min(timeout_s, max(floor_s, factor × reference_s))``: the factor is chosen for loop-based
  student code, which runs thousands of times slower than the vectorised reference.
- **Probation.** Within one submission's grading, once a call of a function did not finish
  within its limit (a real timeout: not one the machine caused, see
  :meth:`~grader.sandbox.cpu.CpuMeter.crowded_out`), its next call gets
  ``max(floor_s, factor × the longest an earlier call of it took to finish,
  reference_factor × reference_s)`` first (the last term for calibrated kinds only). A call
  that finishes under it clears the function; one that does not is a timeout that says why
  it got less than its full limit.

Nothing here runs student code or reads its output: it sees the outcomes the session
returns. Timing and training checks (``fresh_calls``) keep their own budgets and never come
here.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.rubric.model import Calibration, Probation
from grader.sandbox.calls import CallOutcome
from grader.sandbox.memo import KEPT as FINISHED  # outcomes the student's code decided


@dataclass(frozen=True)
class CaseLimit:
    """The limit one call gets, the check's full one, and why they differ ('' when not)."""

    seconds: float
    full_s: float
    why: str = ""
    probation: bool = False

    @property
    def shortened(self) -> bool:
        return self.seconds < self.full_s

    def explain(self) -> str:
        """The clause a timeout's message adds: what it was given, instead of what, and why."""
        if not self.shortened:
            return ""
        return f"given {_s(self.seconds)}, not its full {_s(self.full_s)}, because {self.why}"


def calibrated(full_s: float, reference_s: float | None, rule: Calibration | None) -> CaseLimit:
    """The limit of a call whose request does the reference's work: ``full_s`` shortened to
    ``factor`` times ``reference_s`` (never under ``floor_s``); ``full_s`` itself without a
    measured reference time or a rule."""
    if rule is None or reference_s is None:
        return CaseLimit(full_s, full_s)
    seconds = max(rule.floor_s, rule.factor * reference_s)
    if seconds >= full_s:
        return CaseLimit(full_s, full_s)
    return CaseLimit(seconds, full_s, f"the reference takes {_ms(reference_s)} on this case on "
                                      f"this machine and a call gets at most {rule.factor:g}× "
                                      f"that (at least {_s(rule.floor_s)})")


class CallLimits:
    """The limits of one submission's grading: calibration, and which functions are on
    probation (a call of theirs hung) with the longest each took to finish so far."""

    def __init__(self, calibration: Calibration | None = None,
                 probation: Probation | None = None):
        self.calibration = calibration
        self.probation = probation
        self._hung: set[str] = set()  # functions whose last call that ended did not finish
        self._longest: dict[str, float] = {}  # the longest a call of each took to finish

    def limit(self, function: str, full_s: float, reference_s: float | None,
              calibrate: bool) -> CaseLimit:
        """The limit of the next call of ``function`` (``module:function``) on a case the
        reference took ``reference_s`` on; ``calibrate``: its request does the reference's
        work."""
        given = calibrated(full_s, reference_s, self.calibration) if calibrate \
            else CaseLimit(full_s, full_s)
        rule = self.probation
        if rule is None or function not in self._hung:
            return given
        measured = reference_s if calibrate and reference_s is not None else 0.0
        seconds = max(rule.floor_s, rule.factor * self._longest.get(function, 0.0),
                      rule.reference_factor * measured)
        if seconds >= given.seconds:
            return given
        name = function.split(":")[-1]
        return CaseLimit(seconds, full_s, f"an earlier call of {name} did not finish within its "
                                          "limit", probation=True)

    def ended(self, function: str, outcome: CallOutcome) -> None:
        """Learn from how a call of ``function`` ended: a real timeout puts it on probation,
        any other end takes it off; a call that finished (returned or raised) after running
        (a reused outcome ran nothing: 0 s) sets how long its calls may take."""
        if outcome.during_import:
            return  # the import's own limit, not the function's
        if outcome.status == "timeout":
            if not outcome.crowded_out:  # the machine, not the code, when crowded out alone
                self._hung.add(function)
            return
        if outcome.seconds > 0:
            self._hung.discard(function)
            if outcome.status in FINISHED:
                self._longest[function] = max(self._longest.get(function, 0.0), outcome.seconds)

    def on_probation(self, function: str) -> bool:
        return function in self._hung


def _s(seconds: float) -> str:
    return f"{seconds:.3g} s"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else _s(seconds)
