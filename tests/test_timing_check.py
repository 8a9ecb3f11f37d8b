"""The ``timing`` kind: a speed ratio against the reference on the same machine, scored by a curve."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.base import CheckContext
from grader.checks.timing import TimingCheck
from grader.prepare import PreparedCase, PreparedCheck
from grader.rubric import Check
from grader.sandbox import CallOutcome

CURVE = [[30, 1.0], [300, 0.5], [3000, 0.0]]


def _prepared(reference: str | None = "tests.test_timing_check:_reference_sleep",
              repeat: int = 2) -> PreparedCheck:
    check = Check(id="t", name="t", kind="timing", target="student_sift:get_features", points=1,
                  reference=reference, cases=[{"args": {"a": {"value": 0}}}],
                  options={"curve": CURVE, "repeat": repeat})
    return PreparedCheck(check, [PreparedCase("c", "", ["n"], [np.zeros(3)], [])])


def _reference_sleep(array):
    """A 'reference' that takes a known ~10 ms."""
    import time

    time.sleep(0.01)


class _Session:
    def __init__(self, seconds: list[float], status: str = "returned"):
        self.seconds, self.status, self.calls = list(seconds), status, 0

    def call(self, module, function, args, timeout_s):
        self.calls += 1
        return CallOutcome(self.status, [np.zeros(1)], seconds=self.seconds.pop(0), error="boom")


def test_ratio_uses_the_fastest_run_after_a_warm_up():
    session = _Session([5.0, 0.4, 0.2])  # warm-up, then two runs; best 0.2 s = ~20x
    result = TimingCheck().run(_prepared(), CheckContext(session, 60))
    assert session.calls == 3
    ratio = result.details["per_case"][0]["ratio"]
    assert 12 < ratio < 21 and result.score == 1.0


def test_slow_code_earns_a_fraction_by_the_curve():
    session = _Session([3.0, 3.0, 3.0])  # ~300x a 10 ms reference
    result = TimingCheck().run(_prepared(), CheckContext(session, 60))
    assert 0.4 < result.score < 0.65 and "x the reference's time" in result.message


def test_very_slow_warm_up_is_not_repeated():
    session = _Session([50.0])
    TimingCheck().run(_prepared(), CheckContext(session, 60))
    assert session.calls == 1


def test_a_failing_call_scores_nothing():
    result = TimingCheck().run(_prepared(), CheckContext(_Session([0.1], "raised"), 60))
    assert result.score == 0 and "raised boom" in result.message


def test_the_reference_must_be_named():
    result = TimingCheck().run(_prepared(reference=None), CheckContext(_Session([0.1] * 3), 60))
    assert result.score == 0 and "needs `reference" in result.message


@pytest.mark.parametrize("options, text", [
    ({}, "needs options.curve"),
    ({"curve": CURVE, "repeat": 0}, "positive integer"),
    ({"curve": CURVE, "warmup": 1}, "unknown option"),
])
def test_options_are_validated(options, text):
    assert text in TimingCheck.options_problem(options)
