"""``numeric``: returned arrays must equal the reference's within a tolerance.

The comparison may be restricted to the *interior* — pixels at least half a
kernel from the border — so that any sensible padding earns full marks. When
a value is wrong but matches the output of a classic mistake prepared from
the rubric's ``diagnoses`` (e.g. a flipped kernel), the message says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.base import CheckKind, Verdict, output_name
from grader.checks._thumbnails import image_artifacts
from grader.checks._validate import as_numeric_array
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.results import CheckResult, Status
from grader.rubric.model import Comparison
from grader.sandbox import CallOutcome
from grader.checks import KINDS


@KINDS.register
class NumericCheck(CheckKind):
    name = "numeric"
    reads = frozenset({"compare", "diagnoses"})
    calibrated = True  # one call of the target on the case's arguments, as the reference's

    @classmethod
    def figures(cls, result: CheckResult, arrays: dict[str, Any]) -> list[Any]:
        """The output beside the expected one (visible checks) and the error heat-map."""
        from grader.figures import image_panels

        passed = result.status == Status.PASSED
        return [image_panels(arrays, result.visibility == "visible", passed)] \
            if "output" in arrays else []

    def judge(self, outputs: list[Any], case: PreparedCase, prepared: PreparedCheck,
              outcome: CallOutcome) -> Verdict:
        check = prepared.check
        compare = check.compare
        labels = [output_name(i, len(case.expected), check) for i in range(len(case.expected))]
        if len(case.expected) == 1 and len(outputs) != 1 and not outcome.returned_tuple:
            outputs = outputs[:1]
        if len(outputs) != len(case.expected):
            return Verdict(False, f"returned {len(outputs)} value(s), expected {len(case.expected)}")
        window = _window(compare, case)
        notes: list[str] = []
        shown: dict[str, Any] = {}
        for index, (value, expected, label) in enumerate(zip(outputs, case.expected, labels)):
            expected = np.asarray(expected)
            array, problem, quirks = as_numeric_array(value, expected, label)
            notes += quirks
            if array is None:
                return Verdict(False, problem, {"notes": notes})
            visible = check.visibility == "visible"
            shown = shown if index else image_artifacts(array, expected, label, visible)
            wrong = _compare(array, expected, window, compare, label)
            if wrong is not None:
                hint = _diagnose(array, case, index, window, compare)
                if hint and visible:
                    wrong.message += f"; {hint}"
                    wrong.details["diagnosis"] = hint
                wrong.details["notes"] = notes
                wrong.artifacts = image_artifacts(array, expected, label, visible)
                return wrong
        return Verdict(True, details={"notes": notes} if notes else {}, artifacts=shown)


def _window(compare: Comparison, case: PreparedCase) -> tuple[slice, ...]:
    """The compared region: everything, or the interior half a kernel from each border."""
    if compare.region == "full" or compare.margin_from is None:
        return ()
    kernel = np.asarray(case.args[case.arg_names.index(compare.margin_from)])
    rows, cols = kernel.shape[0] // 2, kernel.shape[1] // 2
    return (slice(rows, -rows or None), slice(cols, -cols or None))


def _compare(actual: np.ndarray, expected: np.ndarray, window: tuple[slice, ...],
             compare: Comparison, label: str) -> Verdict | None:
    """``None`` when equal within tolerance, else a failing verdict with the worst pixel."""
    offset = [s.start or 0 for s in window] + [0] * (expected.ndim - len(window))
    a = actual[window].astype(np.float64)
    e = expected[window].astype(np.float64)
    if a.size == 0:
        return None
    if not np.all(np.isfinite(a)):
        where = tuple(int(i) + o for i, o in zip(np.argwhere(~np.isfinite(a))[0], offset))
        return Verdict(False, f"{label} contains NaN or infinity (first at {where})",
                       {"nonfinite_at": list(where)})
    error = np.abs(a - e)
    bad = error > compare.atol + compare.rtol * np.abs(e)
    if not bad.any():
        return None
    worst = np.unravel_index(int(np.argmax(error)), error.shape)
    where = tuple(int(i) + o for i, o in zip(worst, offset))
    max_error = float(error[worst])
    fraction = float(bad.mean())
    return Verdict(False, f"{label}: max abs error {max_error:.3g} at {where} "
                          f"({fraction:.1%} of compared values wrong)",
                   {"max_abs_error": max_error, "max_error_at": list(where),
                    "fraction_wrong": fraction, "region": compare.region})


def _diagnose(actual: np.ndarray, case: PreparedCase, index: int, window: tuple[slice, ...],
              compare: Comparison) -> str | None:
    for message, outputs in case.diagnoses:
        candidate = np.asarray(outputs[index])
        if candidate.shape == actual.shape and _compare(actual, candidate, window, compare, "") is None:
            return message
    return None
