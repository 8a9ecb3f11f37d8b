"""``timing``: the student's speed relative to the reference's, on fresh inputs, same machine.

Never an absolute time: machines differ, ratios travel. The reference is timed where the
expected outputs are prepared (best of three calls, trusted side), together with a fixed
numpy workload (:func:`calibration_seconds`); at grading the parent runs that workload again
with nothing of the student's alive (its worker is stopped first) and scales the reference's
time by the ratio, so the comparison is the grading machine's, as loaded as it is now, and
scoring never calls ``reference/`` (a Gradescope bundle holds none).

The student's function is called once on the first case to warm up (imports, caches), then
once on each other case: every timed call gets inputs it has not seen, so remembering an
earlier answer gains nothing. A call's outputs must have the reference's shapes and be
finite, and not one number everywhere (and, with ``options.agree``, match it to the check's
``compare`` tolerances) before its time earns anything: ``None``, zeros or a wrong shape
returned fast score zero. The ratio
``student / reference`` of each timed case maps to a fraction of the points through
``options.curve`` (e.g. ``[[10, 1], [100, 0.5], [1000, 0]]``: up to 10× slower is full credit).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import Field

from grader.checks.base import CheckContext, CheckProblem, Verdict, output_name
from grader.checks._curve import CurveOptions, CurveScored, curve_fraction
from grader.prepare.prepared import PreparedCase, PreparedCheck, as_outputs
from grader.results import CheckResult
from grader.rubric.model import Check
from grader.sandbox import CallOutcome
from grader.checks import KINDS

_BEST_OF = 3
_TWO_CASES = "a timing check needs two cases or more (the first one warms up)"


class TimingOptions(CurveOptions):
    """The options of a ``timing`` check: its ``curve`` maps the ratio of the student's time to
    the reference's (10: ten times slower) to credit."""

    agree: bool = Field(False, strict=True)
    """the outputs must also equal the reference's within the check's ``compare`` tolerances
    before their time counts (without it: the reference's shapes, finite, not constant)"""


@KINDS.register
class TimingCheck(CurveScored):
    name = "timing"
    reads = frozenset({"compare"})  # the outputs must be right before a time counts
    fresh_calls = True  # every timed call must really run
    options_model = TimingOptions

    @classmethod
    def check_problem(cls, check: Check) -> CheckProblem | None:
        """Two cases or more: the first one only warms up."""
        if len(check.cases) < 2:
            return CheckProblem(_TWO_CASES, ("cases",))
        return None

    @classmethod
    def expected_outputs(cls, module: Any, function: str, check: Check, args: list[Any]) -> list[Any]:
        """The reference's outputs, then its best time and the calibration time (seconds)."""
        target = getattr(module, function)
        outputs = as_outputs(target(*_copies(args)))
        best = min(_timed(lambda: target(*_copies(args))) for _ in range(_BEST_OF))
        return [*outputs, float(best), calibration_seconds()]

    @classmethod
    def reproducible_outputs(cls, outputs: list[Any]) -> list[Any]:
        return outputs

    def run(self, prepared: PreparedCheck, context: CheckContext) -> CheckResult:
        if len(prepared.cases) < 2:
            return self._result(prepared, [Verdict(False, f"rubric error: {_TWO_CASES}")], "", 0.0)
        context.session.stop()  # nothing of the student's runs while the machine is measured
        self._calibration_here = calibration_seconds()
        check = prepared.check
        call = lambda case: context.session.call(check.module, check.function, case.args,
                                                 context.timeout_s)
        warmup = call(prepared.cases[0])
        timed = replace(prepared, cases=prepared.cases[1:])
        if warmup.status != "returned":
            verdict = self._verdict(warmup, prepared.cases[0], prepared)
            return self._result(timed, [verdict] * len(timed.cases), warmup.stdout, warmup.seconds)
        verdicts, stdout, seconds = [], [warmup.stdout], warmup.seconds
        for number, case in enumerate(timed.cases, start=1):
            outcome = call(case)
            if context.observe:
                context.observe(check.id, number, outcome)
            stdout.append(outcome.stdout)
            seconds += outcome.seconds
            verdicts.append(self._verdict(outcome, case, timed))
        return self._result(timed, verdicts, "".join(stdout), seconds)

    def judge(self, outputs: list[Any], case: PreparedCase, prepared: PreparedCheck,
              outcome: CallOutcome) -> Verdict:
        *expected, reference_s, calibration_then = case.expected
        problem = _invalid(outputs, expected, prepared.check)
        if problem:
            return Verdict(False, f"no speed points: {problem}")
        here = getattr(self, "_calibration_here", calibration_then)
        reference = reference_s * here / max(calibration_then, 1e-9)
        ratio = outcome.seconds / max(reference, 1e-9)
        fraction = curve_fraction(TimingOptions.of(prepared.check).curve, ratio)
        summary = (f"{ratio:.1f}x the reference's time ({outcome.seconds:.3g} s vs "
                   f"{reference:.3g} s on this machine)")
        details = {"seconds": round(outcome.seconds, 4), "reference_seconds": round(reference, 4),
                   "ratio": round(ratio, 2)}
        return self.scored(fraction, summary, details)


def calibration_seconds() -> float:
    """Best time of a fixed numpy workload (filtering, gradients, histograms, a sort, a
    product): how fast this machine runs the reference's kind of code right now."""
    rng = np.random.default_rng(0)
    image = rng.random((384, 384))
    points = rng.random((2000, 128))

    def workload() -> None:
        dy, dx = np.gradient(image)
        np.histogram(np.arctan2(dy, dx), bins=36, weights=np.hypot(dx, dy))
        np.sort(points, axis=0)
        points @ points.T

    return float(min(_timed(workload) for _ in range(_BEST_OF)))


def _invalid(outputs: list[Any], expected: list[Any], check: Check) -> str | None:
    """Why ``outputs`` are not a real answer (shape, dtype, finiteness, tolerance), or ``None``."""
    agree = TimingOptions.of(check).agree
    if len(outputs) < len(expected):
        return f"returned {len(outputs)} value(s), expected {len(expected)}"
    for index, (value, reference) in enumerate(zip(outputs, expected)):
        if not isinstance(reference, np.ndarray):
            continue
        name = output_name(index, len(expected), check)
        if not _same_layout(value, reference):
            shape = getattr(value, "shape", type(value).__name__)
            return f"{name} is {shape}, expected an array of shape {reference.shape}"
        if value.dtype.kind not in "biuf" or not np.all(np.isfinite(value)):
            return f"{name} holds values that are not finite real numbers"
        if value.size > 1 and np.ptp(value) == 0 and np.ptp(reference) > 0:
            return f"{name} is the same number everywhere"
        if agree and not np.allclose(
                value, reference, atol=check.compare.atol, rtol=check.compare.rtol):
            return f"{name} does not match the expected values"
    return None


def _same_layout(value: Any, reference: np.ndarray) -> bool:
    """The reference's shape, or the same values laid out with extra unit axes ((k, 1, 128) for
    (k, 128): other checks read such bent-API outputs too)."""
    return isinstance(value, np.ndarray) and (value.shape == reference.shape or (
        value.size == reference.size and value.shape[:1] == reference.shape[:1]
        and np.squeeze(value).shape == np.squeeze(reference).shape))


def _copies(args: list[Any]) -> list[Any]:
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
