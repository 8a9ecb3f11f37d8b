"""The ``gradient`` check kind: scoring, partial credit, diagnoses and misbehaving backwards.

Each test grades a small ``layers.py`` in a real sandbox: the reference's source
with some functions redefined after it (a later ``def`` wins), against a small
rubric written here.
"""

from __future__ import annotations

import re

import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader import grading
from grader.intake import submission
from grader.checks.gradient import (GradientCheck, GradientOutcome, _numerical, _perturbations,
                                    rel_error)
from grader.errors import RubricError
from grader.prepare.expected import prepare
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.results import Status
from grader.rubric.load import Check, Rubric, rubric_hash

REFERENCE_SOURCE = (Path(__file__).resolve().parents[1] / "reference" / "layers.py").read_text()
# the reference's versions stay callable under a private name when a test redefines them
ALIASES = """
_softmax_loss, _affine_backward, _conv_backward_naive = (
    softmax_loss, affine_backward, conv_backward_naive)
"""

AFFINE = {"id": "affine", "name": "affine", "kind": "gradient", "target": "layers:affine_forward",
          "points": 9, "options": {"backward": "affine_backward", "wrt": ["x", "w", "b"]},
          "cases": [{"args": {"x": {"normal": {"shape": [2, 3, 2], "seed": 1}},
                              "w": {"normal": {"shape": [6, 4], "seed": 2}},
                              "b": {"normal": {"shape": [4], "seed": 3}}}}]}
SQUARE_AFFINE = {**AFFINE, "id": "square", "cases": [
    {"args": {"x": {"normal": {"shape": [3, 3], "seed": 4}},
              "w": {"normal": {"shape": [3, 3], "seed": 5}},
              "b": {"normal": {"shape": [3], "seed": 6}}}}]}
RELU = {"id": "relu", "name": "relu", "kind": "gradient", "target": "layers:relu_forward",
        "points": 3, "options": {"backward": "relu_backward", "wrt": ["x"]},
        "cases": [{"args": {"x": {"normal": {"shape": [3, 4], "seed": 7}}}},
                  {"args": {"x": {"normal": {"shape": [2, 5], "seed": 8}}}}]}
CONV = {"id": "conv", "name": "conv", "kind": "gradient", "target": "layers:conv_forward_naive",
        "points": 9, "options": {"backward": "conv_backward_naive", "wrt": ["x", "w", "b"]},
        "cases": [{"args": {"x": {"normal": {"shape": [2, 2, 5, 5], "seed": 9}},
                            "w": {"normal": {"shape": [3, 2, 3, 3], "seed": 10}},
                            "b": {"normal": {"shape": [3], "seed": 11}},
                            "conv_param": {"value": {"stride": 1, "pad": 1}}}}]}
SOFTMAX = {"id": "softmax", "name": "softmax", "kind": "gradient", "target": "layers:softmax_loss",
           "points": 3, "options": {"wrt": ["x"]},
           "cases": [{"args": {"x": {"normal": {"shape": [4, 5], "seed": 12}},
                               "y": {"integers": {"shape": [4], "seed": 13, "high": 5}}}}]}


def _rubric(*checks: dict, **defaults) -> tuple[Rubric, str]:
    data = {"assignment": "gradient_demo", "reference": "reference.layers",
            "defaults": {"timeout_s": 10, **defaults}, "checks": list(checks)}
    return Rubric.model_validate(data), rubric_hash(data)


def _grade(tmp_path: Path, overrides: str, *checks: dict, **defaults) -> dict:
    """Grade the reference with ``overrides`` appended; return the results by check id."""
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    (folder / "layers.py").write_text(REFERENCE_SOURCE + ALIASES + textwrap.dedent(overrides))
    rubric, digest = _rubric(*checks, **defaults)
    with submission.load(folder, rubric.modules) as loaded:
        result = grading.grade(loaded, rubric, digest, prepare(rubric, digest))
    return {check.id: check for check in result.checks}


# -- options and preparation ---------------------------------------------------------


@pytest.mark.parametrize("options, problem", [
    ({"wrt": ["x"]}, None),
    ({"backward": "conv_backward_naive", "wrt": ["x", "w"], "partial": {"forward": 0.5}}, None),
    ({}, "kind 'gradient' needs options.wrt, e.g. [x, w, b]"),
    ({"wrt": []}, "wrt: List should have at least 1 item"),
    ({"wrt": ["x", "x"]}, "wrt names an argument twice"),
    ({"wrt": ["x"], "tolerance": 1}, "unknown option 'tolerance' for kind 'gradient'; known: "),
    ({"wrt": ["x"], "partial": {"consistent": 2}}, "partial.consistent: Input should be less"),
    ({"wrt": ["x"], "h": 0}, "h: Input should be greater than 0"),
])
def test_options_are_validated_at_rubric_load(options, problem):
    found = GradientCheck.options_problem(options)
    assert (found is None) if problem is None else found.message.startswith(problem)


@pytest.mark.parametrize("change, message", [
    ({"options": {"backward": "relu_backward", "wrt": ["z"]}}, "options.wrt names 'z'"),
    ({"cases": [{"args": {"x": {"integers": {"shape": [3], "seed": 1, "high": 4}}}}]},
     "argument 'x' in options.wrt must be a float array"),
    ({"options": {"backward": "relu_backward", "wrt": ["x", "y"]}}, "options.wrt names 'y'"),
])
def test_rubric_mistakes_are_one_sentence_at_prepare(change, message):
    rubric, digest = _rubric({**RELU, **change})
    with pytest.raises(RubricError, match=message):
        prepare(rubric, digest)


def test_numerical_gradient_of_a_linear_forward_is_exact():
    x = np.arange(6.0).reshape(2, 3)
    stack = _perturbations(x, 1e-3)
    assert stack.shape == (12, 2, 3) and np.count_nonzero(stack - x) == 12
    matrix = np.arange(12.0).reshape(3, 4)
    outputs = np.stack([s @ matrix for s in stack])
    dout = np.ones((2, 4))
    assert np.allclose(_numerical(outputs, x @ matrix, dout, 1e-3, x.shape), dout @ matrix.T)
    assert _numerical(outputs[:-1], x @ matrix, dout, 1e-3, x.shape) is None


def test_rel_error_is_cs231n():
    assert rel_error(np.array([1.0, 0.0]), np.array([3.0, 0.0])) == 0.5
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0


# -- scoring -------------------------------------------------------------------


def test_reference_scores_full_marks(tmp_path):
    results = _grade(tmp_path, "", AFFINE, RELU, CONV, SOFTMAX)
    for result in results.values():
        assert result.status == Status.PASSED and result.score == result.max_score, result.message


def test_forward_wrong_but_backward_consistent_earns_partial_credit(tmp_path):
    results = _grade(tmp_path, """
        def relu_forward(x):
            return 2 * np.maximum(x, 0), x

        def relu_backward(dout, cache):
            return 2 * dout * (cache > 0)

        def affine_forward(x, w, b):
            return x.reshape(x.shape[0], -1) @ w + 2 * b, (x, w, b)

        def affine_backward(dout, cache):
            dx, dw, _ = _affine_backward(dout, cache)
            return dx, dw, 2 * dout.sum(0)
    """, RELU, AFFINE)
    relu, affine = results["relu"], results["affine"]
    assert relu.status == Status.FAILED and relu.score == pytest.approx(3 * (2 / 3) * 0.5)
    assert "numerical gradient of your forward (partial credit)" in relu.message
    assert "out has relative error" in relu.message
    # forward 0, dx and dw right (2/9 each), db consistent (half of 2/9)
    assert affine.score == pytest.approx(9 * (2 / 9 + 2 / 9 + 1 / 9))
    assert "db has relative error" in affine.message and "dx" not in affine.message


def test_inconsistent_wrong_gradient_earns_nothing_for_it(tmp_path):
    results = _grade(tmp_path, """
        def affine_backward(dout, cache):
            x, w, _ = cache
            return (dout @ w.T).reshape(x.shape), -(x.reshape(x.shape[0], -1).T @ dout), dout.sum(0)
    """, AFFINE)
    affine = results["affine"]
    assert affine.score == pytest.approx(9 * (1 / 3 + 2 / 9 + 2 / 9))
    assert "dw has relative error 1 (sign flipped?)" in affine.message
    assert affine.details["case_credits"] == [pytest.approx(7 / 9)]


def test_wrong_shapes_lose_that_gradient_only(tmp_path):
    results = _grade(tmp_path, """
        def conv_backward_naive(dout, cache):
            _, dw, _ = _conv_backward_naive(dout, cache)
            dx_padded = conv_transpose(dout, cache[1], {"stride": 1, "pad": 0})
            return dx_padded, dw, dout.sum(axis=(0, 2))
    """, CONV)
    conv = results["conv"]
    assert conv.score == pytest.approx(9 * (1 / 3 + 2 / 9))
    assert "dx has shape (2, 2, 7, 7), expected (2, 2, 5, 5); padding not removed?" in conv.message
    assert "db has shape (3, 5), expected (3,); db is dout summed over axes (0, 2)" in conv.message


def test_nan_gradient_is_reported(tmp_path):
    results = _grade(tmp_path, """
        def relu_backward(dout, cache):
            return dout * (cache > 0) * np.nan
    """, RELU)
    relu = results["relu"]
    assert relu.score == pytest.approx(3 / 3) and "dx contains NaN or infinity" in relu.message


def test_hanging_backward_times_out_and_stops_the_check(tmp_path):
    results = _grade(tmp_path, """
        def relu_backward(dout, cache):
            while True:
                pass
    """, RELU, timeout_s=1)
    relu = results["relu"]
    assert relu.status == Status.TIMEOUT and relu.score == 0
    # on a busy machine the limit is extended while the call is owed CPU time, and says so
    assert re.search(r"relu_forward then relu_backward did not finish within "
                     r"(1 s|\d+ s \(its 1 s limit, extended)", relu.message), relu.message
    assert relu.details["cases_passed"] == 0


def test_unimplemented_backward_keeps_the_forward_points(tmp_path):
    results = _grade(tmp_path, """
        def relu_backward(dout, cache):
            raise NotImplementedError("relu_backward is still a stub")
    """, RELU)
    relu = results["relu"]
    assert relu.status == Status.ERROR and relu.score == pytest.approx(1.0)
    assert "relu_backward raised NotImplementedError: relu_backward is still a stub" in relu.message


def test_missing_gradients_and_forward_without_cache(tmp_path):
    results = _grade(tmp_path, """
        def affine_backward(dout, cache):
            x, w, _ = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout

        def relu_forward(x):
            return np.maximum(x, 0)
    """, AFFINE, RELU)
    expected = "affine_backward returned 2 value(s), expected 3 (dx, dw, db)"
    assert expected in results["affine"].message
    assert results["affine"].score == pytest.approx(3)
    assert "does the forward return the tuple (out, cache)?" in results["relu"].message


@pytest.mark.parametrize("overrides, check, hint", [
    ("""
        def relu_backward(dout, cache):
            return dout
     """, RELU, "dx is nonzero at"),
    ("""
        def softmax_loss(x, y):
            loss, dx = _softmax_loss(x, y)
            return loss, dx * x.shape[0]
     """, SOFTMAX, "off by a factor of 4: averaged over the batch of N = 4 wrongly?"),
    ("""
        def affine_backward(dout, cache):
            dx, dw, db = _affine_backward(dout, cache)
            return dx, dw.T, db
     """, SQUARE_AFFINE, "dw has relative error 1 (transposed?)"),
    ("""
        def affine_backward(dout, cache):
            dx, dw, db = _affine_backward(dout, cache)
            return dx, dw, dout.sum(axis=1)
     """, SQUARE_AFFINE, "db is dout summed over axes (1,) instead of (0,): summed over the wrong"),
    ("""
        def conv_backward_naive(dout, cache):
            dx, dw, db = _conv_backward_naive(dout, cache)
            dx[:, :, [0, -1], :] = 0
            return dx, dw, db
     """, CONV, "dx is right except within 1 pixel(s) of the border: padding handled wrongly?"),
])
def test_visible_messages_say_how_a_gradient_is_wrong(tmp_path, overrides, check, hint):
    result = _grade(tmp_path, overrides, check)
    assert hint in result[check["id"]].message
    hidden = _grade(tmp_path, overrides, {**check, "visibility": "hidden"})
    message = hidden[check["id"]].message
    assert "hidden" in message and hint not in message and "?" not in message


def test_slightly_inexact_gradient_is_told_apart_from_a_wrong_forward(tmp_path):
    results = _grade(tmp_path, """
        def affine_backward(dout, cache):
            dx, dw, db = _affine_backward(dout, cache)
            return dx, dw * (1 + 1e-6), db
    """, AFFINE)
    affine = results["affine"]
    assert affine.score == pytest.approx(9 * (1 / 3 + 2 / 9 + 2 / 9 + 1 / 9))
    assert "close to the numerical gradient but not exact" in affine.message


def test_partial_all_is_all_or_nothing(tmp_path):
    results = _grade(tmp_path, """
        def relu_backward(dout, cache):
            return -dout * (cache > 0)
    """, {**RELU, "partial": "all"})
    assert results["relu"].score == 0


def test_rubric_diagnoses_name_a_classic_mistake():
    """A ``diagnoses`` entry's gradient (the reference on a transformed argument) is recognised."""
    check = Check.model_validate({**RELU, "cases": RELU["cases"][:1]})
    dout, right = np.ones((2, 2)), np.eye(2)
    mistake = np.array([[0.0, 1.0], [1.0, 0.0]])
    case = PreparedCase("c", "x 2×2", ["x"], [np.eye(2)], [np.eye(2), dout, right],
                        diagnoses=[("kernel not flipped in dx?", [np.eye(2), dout, mistake])])
    outcome = GradientOutcome("returned", value=np.eye(2), stacks=[np.zeros((8, 2, 2))],
                              gradients=[mistake])
    verdict = GradientCheck().judge([], case, PreparedCheck(check, [case]), outcome)
    assert not verdict.passed and verdict.credit == pytest.approx(1 / 3)
    assert verdict.message == "dx has relative error 1 (kernel not flipped in dx?)"


def test_an_all_zero_gradient_is_named_as_such(tmp_path):
    results = _grade(tmp_path, """
        def affine_backward(dout, cache):
            dx, _, db = _affine_backward(dout, cache)
            return dx, np.zeros_like(cache[1]), db
    """, AFFINE)
    message = results["affine"].message
    assert "dw has relative error 1 (all zeros: not computed yet?)" in message
    assert "constant factor" not in message


def test_a_result_records_what_its_report_draws_the_limit_and_the_threshold(tmp_path):
    """The report reads a check's time limit and pass bar from the result, never the rubric."""
    checks = _grade(tmp_path, "", {**RELU, "options": {**RELU["options"], "rel_error": 1e-6}})
    assert checks["relu"].limit_s == 10.0
    assert checks["relu"].details["rel_error_threshold"] == 1e-6


def test_a_timeout_after_an_error_says_which_case_timed_out(tmp_path):
    # the check's status is the worst of its cases (timeout); its message starts with the first
    # failure (an IndexError) and says where the timeout came from, so the two agree
    results = _grade(tmp_path, """
        def relu_backward(dout, cache):
            if dout.shape[0] == 3:
                return [][1]
            while True:
                pass
    """, RELU, timeout_s=1)
    relu = results["relu"]
    assert relu.status == Status.TIMEOUT and relu.score < relu.max_score
    first, _, rest = relu.message.partition("; timeout: ")
    assert "IndexError" in first and "x 2×5" in rest and "did not finish within" in rest


# -- free choices: ties in max pooling -----------------------------------------------------

TIES = {"id": "pool_ties", "name": "pool ties", "kind": "gradient",
        "target": "layers:max_pool_forward_naive", "points": 4, "visibility": "hidden",
        "options": {"backward": "max_pool_backward_naive", "wrt": ["x"],
                    "free_choice": "max_pool_ties"},
        "cases": [{"args": {"x": {"value": [[[[1.0, 1.0, 0.0, 2.0], [0.0, 1.0, 2.0, 2.0],
                                              [3.0, 3.0, 1.0, 0.0], [3.0, 0.0, 1.0, 1.0]]]]},
                            "pool_param": {"value": {"pool_height": 2, "pool_width": 2,
                                                     "stride": 2}}}},
                  {"args": {"x": {"value": [[[[2.0, 2.0, 1.0, 2.0], [0.0, 2.0, 2.0, 0.0],
                                              [1.0, 0.0, 2.0, 1.0]]]]},  # overlapping windows
                            "pool_param": {"value": {"pool_height": 2, "pool_width": 2,
                                                     "stride": 1}}}}]}
# a backward whose routing at ties is ``route(window, dout)``: the gradient of one window
POOL_BACKWARD = """
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
        dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += route(window, dout[n, c, i, j])
    return dx
"""
ROUTES = {
    "last maximum": "def route(w, g):\n    m = np.zeros(w.size); m[np.flatnonzero(w == w.max())[-1]] = g\n    return m.reshape(w.shape)\n",
    "split evenly": "def route(w, g):\n    m = (w == w.max()).astype(float)\n    return g * m / m.sum()\n",
    "the mask (argmax)": "def route(w, g):\n    m = np.zeros(w.size); m[np.argmax(w)] = g\n    return m.reshape(w.shape)\n",
}
WRONG_ROUTES = {
    "every tied maximum gets all of it": "def route(w, g):\n    return g * (w == w.max())\n",
    "the minimum": "def route(w, g):\n    m = np.zeros(w.size); m[np.argmin(w)] = g\n    return m.reshape(w.shape)\n",
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_any_maximum_may_take_a_tied_windows_gradient(tmp_path, route):
    """CS231n leaves ties free: three real ways of routing them all earn the points."""
    graded = _grade(tmp_path, ROUTES[route] + POOL_BACKWARD, TIES)["pool_ties"]
    assert graded.score == 4, graded.message
    if route != "the mask (argmax)":  # argmax takes the first maximum, as the reference does
        strict = {**TIES, "options": {**TIES["options"], "free_choice": None}}
        judged_as_one_answer = _grade(tmp_path, ROUTES[route] + POOL_BACKWARD, strict)
        assert judged_as_one_answer["pool_ties"].score < 4  # what the option is for


@pytest.mark.parametrize("route", sorted(WRONG_ROUTES))
def test_a_gradient_that_no_tie_breaking_gives_still_loses(tmp_path, route):
    graded = _grade(tmp_path, WRONG_ROUTES[route] + POOL_BACKWARD, TIES)["pool_ties"]
    assert graded.score < 4 and "relative error" in graded.message, graded.message
