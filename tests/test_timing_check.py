"""The ``timing`` kind: a speed ratio against the reference on fresh inputs, same machine.

The student's interpreter decides nothing here: the parent times the calls, every timed call
gets inputs no earlier call had (remembering an answer gains nothing), an output that is not a
real answer earns no speed points, and the reference's time (prepared with the expected
outputs) is scaled by a calibration the parent runs with the student's worker stopped.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from grader.checks import timing
from grader.checks.base import CheckContext
from grader.checks.timing import TimingCheck, calibration_seconds
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.rubric.load import Check
from grader.sandbox import CallOutcome

CURVE = [[30, 1.0], [300, 0.5], [3000, 0.0]]
REFERENCE_S = 0.01
ANSWER = np.arange(32.0).reshape(4, 8)


MACHINE_S = 0.05  # the calibration workload's time, fixed: a live one varies with the load


@pytest.fixture(autouse=True)
def _steady_machine(monkeypatch):
    """The machine runs as fast at grading as when the reference was timed (a live
    calibration twice in a row varied by 1.5x on a loaded machine and moved a ratio of 20 past
    the curve's knee at 30); the calibration's own test sets the speed it needs."""
    monkeypatch.setattr(timing, "calibration_seconds", lambda: MACHINE_S)


def _prepared(cases: int = 3, calibration_then: float | None = None, **options) -> PreparedCheck:
    check = Check(id="t", name="t", kind="timing", target="student_sift:get_features", points=1,
                  cases=[{"args": {"a": {"value": 0}}}], options={"curve": CURVE, **options})
    then = MACHINE_S if calibration_then is None else calibration_then
    return PreparedCheck(check, [
        PreparedCase(f"c{i}", "", ["x"], [np.full(3, float(i))], [ANSWER, REFERENCE_S, then])
        for i in range(cases)])


class _Session:
    """Stands in for the sandbox: canned seconds and outputs, and a record of every call."""

    def __init__(self, seconds: list[float], outputs=None, status: str = "returned"):
        self.seconds, self.status, self.calls, self.stopped_first = list(seconds), status, [], None
        self.outputs = [ANSWER.copy()] if outputs is None else outputs

    def stop(self):
        self.stopped_first = not self.calls if self.stopped_first is None else self.stopped_first

    def call(self, module, function, args, timeout_s):
        self.calls.append(args)
        return CallOutcome(self.status, self.outputs, seconds=self.seconds.pop(0), error="boom")


def _run(session, prepared=None):
    return TimingCheck().run(prepared or _prepared(), CheckContext(session, 60))


def test_each_timed_call_gets_fresh_inputs_after_one_warm_up():
    session = _Session([5.0, 0.2, 0.2])  # warm-up, then two timed cases: ~20x a 10 ms reference
    result = _run(session)
    assert session.stopped_first  # the worker was stopped before the machine was measured
    assert len(session.calls) == 3
    assert len({tuple(np.asarray(args[0]).tolist()) for args in session.calls}) == 3
    ratio = result.details["ratio"]
    assert 10 < ratio < 40 and result.score == 1.0


def test_slow_code_earns_a_fraction_by_the_curve():
    result = _run(_Session([3.0, 3.0, 3.0]))  # ~300x a 10 ms reference
    assert 0.4 < result.score < 0.65 and "x the reference's time" in result.message


@pytest.mark.parametrize("outputs, problem", [  # one output: "the output", not "output 1"
    ([None], "the output is NoneType"),
    ([np.ones((4, 7))], "shape (4, 8)"),
    ([np.zeros((4, 8))], "the output is the same number everywhere"),
    ([np.full((4, 8), np.nan)], "the output holds values that are not finite"),
    ([], "returned 0 value(s)"),
])
def test_a_fast_answer_that_is_not_an_answer_earns_nothing(outputs, problem):
    result = _run(_Session([0.001] * 3, outputs))
    assert result.score == 0 and "no speed points" in result.message and problem in result.message


def test_a_bent_layout_of_the_same_values_is_an_answer():
    assert _run(_Session([0.2] * 3, [ANSWER.reshape(4, 1, 8)])).score == 1.0


def test_with_agree_the_outputs_must_match_the_reference():
    wrong = _run(_Session([0.2] * 3, [ANSWER + 1.0]), _prepared(agree=True))
    assert wrong.score == 0 and "does not match" in wrong.message
    assert _run(_Session([0.2] * 3), _prepared(agree=True)).score == 1.0


def test_the_reference_time_follows_the_machine_through_the_calibration():
    here = MACHINE_S
    same = _run(_Session([1.0, 1.0, 1.0]), _prepared(calibration_then=here)).details["ratio"]
    slower_then = _run(_Session([1.0, 1.0, 1.0]), _prepared(calibration_then=here * 4))
    assert slower_then.details["ratio"] == pytest.approx(same * 4, rel=0.01)


def test_the_calibration_times_its_workload_on_this_machine():
    assert 0 < calibration_seconds() < 5  # the live function (the fixture fixes the module's)


def test_a_failing_warm_up_scores_nothing():
    result = _run(_Session([0.1], status="raised"))
    assert result.score == 0 and "raised boom" in result.message


def test_one_case_is_a_rubric_error():
    result = _run(_Session([0.1] * 3), _prepared(cases=1))
    assert result.score == 0 and "two cases or more" in result.message


def test_scoring_never_calls_the_reference():
    source = inspect.getsource(timing)
    assert "importlib" not in source and "import reference" not in source


@pytest.mark.parametrize("options, text", [
    ({}, "needs options.curve"),
    ({"curve": CURVE, "agree": 1}, "true or false"),
    ({"curve": CURVE, "repeat": 2}, "unknown option"),
])
def test_options_are_validated(options, text):
    assert text in TimingCheck.options_problem(options).message
