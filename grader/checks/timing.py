"""``timing``: the student's speed relative to the reference's, on the same machine, same inputs.

Never an absolute time: machines differ, ratios travel. For each case the
trusted parent times the check's ``reference`` (``module:function``) in
process and the student's function in the sandbox (``CallOutcome.seconds``,
measured by the parent, so it includes a few milliseconds of transfer;
choose inputs on which the reference takes well over that). Both get one
warm-up call and then the best of ``options.repeat`` runs. The ratio
``student / reference`` maps to a fraction of the points through
``options.curve`` (e.g. ``[[10, 1], [100, 0.5], [1000, 0]]``: up to 10×
slower is full credit).

The reference runs at check time, so timing checks belong on the
instructor's side (``visibility: hidden``): an exported kit has no answer key
to time against.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

import numpy as np

from grader.checks.base import Verdict
from grader.checks.curve import CurveScored, curve_fraction
from grader.prepare import PreparedCase, PreparedCheck
from grader.sandbox import CallOutcome

DEFAULT_REPEAT = 3


class TimingCheck(CurveScored):
    name = "timing"

    @classmethod
    def options_problem(cls, options: dict[str, Any]) -> str | None:
        problem = cls.unknown_options(options, {"curve", "repeat"})
        if problem:
            return problem
        repeat = options.get("repeat", DEFAULT_REPEAT)
        if not isinstance(repeat, int) or repeat < 1:
            return "repeat must be a positive integer"
        return super().options_problem(options)

    @classmethod
    def expected_outputs(cls, module: Any, function: str, check: Any, args: list[Any]) -> list[Any]:
        """Nothing to prepare: the reference is timed at check time, on the grading machine."""
        return []

    def invoke(self, case: PreparedCase, prepared: PreparedCheck, context) -> CallOutcome:
        """One warm-up call, then the fastest of ``repeat`` calls (or the first failure).

        A warm-up slower than the time limit / ``repeat`` is not repeated: it is
        already far from the reference, and repeating would only cost time.
        """
        check = prepared.check

        def call() -> CallOutcome:
            return context.session.call(check.module, check.function, case.args, context.timeout_s)

        best = call()
        stdout = [best.stdout]
        if best.status == "returned" and best.seconds * _repeat(check) <= context.timeout_s:
            for _ in range(_repeat(check)):
                outcome = call()
                stdout.append(outcome.stdout)
                if outcome.status != "returned":
                    best = outcome
                    break
                best = outcome if outcome.seconds < best.seconds else best
        best.stdout = "".join(stdout)
        return best

    def judge(self, outputs: list[Any], case: PreparedCase, prepared: PreparedCheck,
              outcome: CallOutcome) -> Verdict:
        check = prepared.check
        if not check.reference:
            return Verdict(False, "rubric error: a timing check needs `reference: module:function`")
        reference = _time_reference(check.reference, case.args, _repeat(check))
        ratio = outcome.seconds / max(reference, 1e-9)
        fraction = curve_fraction(check.options["curve"], ratio)
        summary = (f"{ratio:.1f}x the reference's time ({outcome.seconds:.3g} s vs "
                   f"{reference:.3g} s on this machine)")
        details = {"seconds": round(outcome.seconds, 4), "reference_seconds": round(reference, 4),
                   "ratio": round(ratio, 2)}
        return self.scored(fraction, summary, details)


def _repeat(check: Any) -> int:
    return check.options.get("repeat", DEFAULT_REPEAT)


def _time_reference(target: str, args: list[Any], repeat: int) -> float:
    """Best wall time in seconds of ``repeat`` in-process calls after one warm-up."""
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    best = np.inf
    for index in range(repeat + 1):
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        started = time.perf_counter()
        function(*copies)
        if index:
            best = min(best, time.perf_counter() - started)
    return float(best)
