"""The ``accuracy`` kind: the course's top-100 evaluation, judged on the trusted side."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.accuracy import AccuracyCheck
from grader.checks.base import CheckContext
from grader.checks._curve import curve_fraction, curve_problem
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.rubric.load import Check
from grader.sandbox import CallOutcome

CURVE = [[0.0, 0.0], [0.5, 0.5], [0.8, 1.0]]
# ground truth (full resolution): point g sits at (100 g, 100) in A and moves by (+40, 0) in B
GT = np.array([[100.0 * g, 100.0, 100.0 * g + 40, 100.0] for g in range(1, 6)])


def _prepared(visibility: str = "visible", curve=CURVE) -> PreparedCheck:
    check = Check(id="acc", name="accuracy", kind="accuracy", points=6, visibility=visibility,
                  target="student_feature_matching:match_features",
                  cases=[{"args": {"image_a": {"value": 0}}}], options={"curve": curve})
    case = PreparedCase("pair", "", ["image_a", "image_b", "feature_width", "ground_truth"],
                        [np.zeros((8, 8), np.float32), np.ones((8, 8), np.float32), 16, GT],
                        expected=[])
    return PreparedCheck(check, [case])


def _keypoints(good: int, bad: int):
    """Working-scale keypoints: ``good`` correct correspondences, then ``bad`` wrong ones."""
    x1 = np.array([50.0 * (g % 5 + 1) for g in range(good + bad)])
    y1 = np.full(good + bad, 50.0)
    x2 = x1 + np.where(np.arange(good + bad) < good, 20.0, -60.0)  # 20 working px = 40 full
    return x1, y1, x2, y1.copy()


def _judge(matches, confidences, points, prepared=None, returned_tuple=True):
    prepared = prepared or _prepared()
    outputs = [matches, confidences, *points]
    outcome = CallOutcome("returned", outputs, returned_tuple)
    return AccuracyCheck().judge(outputs, prepared.cases[0], prepared, outcome)


def test_counts_the_first_100_matches_in_the_order_returned():
    points = _keypoints(good=150, bad=50)
    matches = np.stack([np.arange(200)] * 2, axis=1)[::-1]  # the 50 wrong ones come first
    verdict = _judge(matches, None, points)
    assert verdict.details["accuracy"] == pytest.approx(0.5)
    assert verdict.details["num_evaluated"] == 100 and verdict.details["num_correct"] == 50
    assert verdict.details["fraction"] == pytest.approx(0.5) and not verdict.passed


def test_fewer_than_100_matches_scale_the_accuracy_down():
    points = _keypoints(good=40, bad=0)
    verdict = _judge(np.stack([np.arange(40)] * 2, axis=1), np.ones(40), points)
    assert verdict.details["accuracy"] == pytest.approx(0.4)
    assert "only 40 matches returned" in verdict.message


def test_full_credit_from_80_percent():
    points = _keypoints(good=85, bad=15)
    verdict = _judge(np.stack([np.arange(100)] * 2, axis=1), np.linspace(1, 0, 100), points)
    assert verdict.details["accuracy"] == pytest.approx(0.85) and verdict.passed
    assert verdict.details["fraction"] == 1.0


def test_hint_names_the_better_sort_order_for_distance_like_confidences():
    points = _keypoints(good=100, bad=100)
    order = np.r_[np.arange(100, 200), np.arange(100)]  # wrong ones first
    distances = np.r_[np.full(100, 0.9), np.full(100, 0.1)]  # lower is better
    verdict = _judge(np.stack([order, order], axis=1), distances, points)
    assert verdict.details["accuracy"] == 0.0
    assert verdict.details["accuracy_sorted_ascending"] == 1.0
    assert verdict.details["accuracy_sorted_descending"] == 0.0
    assert "ascending" in verdict.message and "distances" in verdict.message
    assert "100% instead of 0%" in verdict.message


def test_no_hint_when_the_returned_order_is_already_best():
    points = _keypoints(good=100, bad=0)
    verdict = _judge(np.stack([np.arange(100)] * 2, axis=1), np.linspace(1, 0, 100), points)
    assert "sorted by your confidences" not in verdict.message


def test_obvious_variants_are_normalised_with_notes():
    x1, y1, x2, y2 = _keypoints(good=100, bad=0)
    matches = np.stack([np.arange(100)] * 2, axis=1).astype(float)
    verdict = _judge(matches, np.ones((100, 1)), (x1[:, None], y1, x2, y2))
    assert verdict.passed
    assert "read as int" in verdict.message and "read as (100,)" in verdict.message


@pytest.mark.parametrize("matches, text", [
    (np.array([[0, 500]]), "not an index of the 100 keypoints of image B"),
    (np.array([[0.5, 1]]), "non-integer"),
    (np.zeros((3, 3)), "expected (k, 2)"),
])
def test_unreadable_matches_fail_with_one_sentence(matches, text):
    verdict = _judge(matches, None, _keypoints(100, 0))
    assert not verdict.passed and text in verdict.message


def test_match_features_must_return_a_tuple():
    verdict = _judge(np.zeros((3, 2)), None, _keypoints(10, 0), returned_tuple=False)
    assert "must return (matches, confidences)" in verdict.message


class _RecordingSession:
    """Stands in for the sandbox: records what would be sent, returns canned outputs."""

    def __init__(self, outputs):
        self.outputs, self.requests = outputs, []

    def run(self, module, steps, returns, timeout_s):
        self.requests.append((module, steps, returns))
        return CallOutcome("returned", self.outputs, True, seconds=0.5)


def test_ground_truth_is_never_sent_and_the_pipeline_is_one_request():
    points = _keypoints(good=100, bad=0)
    session = _RecordingSession([np.stack([np.arange(100)] * 2, axis=1), np.ones(100), *points])
    prepared = _prepared()
    result = AccuracyCheck().run(prepared, CheckContext(session, 10.0))
    (module, steps, returns), = session.requests
    sent = [a for step in steps for a in step.args if isinstance(a, np.ndarray)]
    assert not any(a is GT or (a.shape == GT.shape and np.array_equal(a, GT)) for a in sent)
    assert [s.module or module for s in steps] == ["student_harris"] * 2 + ["student_sift"] * 2 + [
        "student_feature_matching"]
    assert len(returns) == 6
    assert result.score == 6 and result.details["per_case"][0]["accuracy"] == 1.0


def test_a_failing_stage_is_named():
    class Failing(_RecordingSession):
        def run(self, module, steps, returns, timeout_s):
            return CallOutcome("raised", error="ValueError: bad", step=2)

    result = AccuracyCheck().run(_prepared(), CheckContext(Failing([]), 10.0))
    assert result.score == 0 and "get_features on image A raised ValueError" in result.message


def test_hidden_checks_report_numbers_without_hints():
    points = _keypoints(good=100, bad=100)
    order = np.r_[np.arange(100, 200), np.arange(100)]
    session = _RecordingSession([np.stack([order, order], axis=1),
                                 np.r_[np.full(100, 0.9), np.full(100, 0.1)], *points])
    result = AccuracyCheck().run(_prepared("hidden"), CheckContext(session, 10.0))
    assert "accuracy 0%" in result.message and "sorted" not in result.message


def test_options_are_validated():
    assert AccuracyCheck.options_problem({"curve": CURVE}) is None
    assert "needs options.curve" in AccuracyCheck.options_problem({}).message
    assert "increase" in AccuracyCheck.options_problem({"curve": [[0.5, 0], [0.2, 1]]}).message
    unknown = AccuracyCheck.options_problem({"curve": CURVE, "nope": 1})
    assert "unknown option 'nope'" in unknown.message and unknown.where == ("options", "nope")


def test_curve_is_piecewise_linear_and_clamped():
    assert curve_problem(CURVE) is None and curve_problem([[0, 2]]) is not None
    assert [curve_fraction(CURVE, a) for a in (-1, 0.25, 0.65, 0.8, 1)] == pytest.approx(
        [0, 0.25, 0.75, 1, 1])


def test_rubric_cases_never_send_ground_truth():
    from grader.rubric.assignments import rubric_path
    from grader.rubric.load import load_rubric

    rubric, _ = load_rubric(rubric_path("proj2_features"))
    for check in (c for c in rubric.checks if c.kind == "accuracy"):
        for case in check.cases:
            assert list(case.args) == ["image_a", "image_b", "feature_width", "ground_truth"]
