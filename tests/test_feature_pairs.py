"""Tests for grader/datasets/feature_pairs.py and the end-to-end reference pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from grader.datapath import CourseDataMissing, course_data_dir
from grader.datasets.feature_pairs import (
    COURSE_PAIRS,
    SYNTHETIC_PHOTOS,
    FeaturePair,
    load_course_pair,
    synthetic_pair,
)
from grader.datasets.course_evaluation import EvaluationResult, evaluate_correspondence, evaluate_matches
from reference.harris import get_interest_points
from reference.matching import match_features
from reference.sift import get_features

FEATURE_WIDTH = 16


def _reference_pipeline(pair: FeaturePair) -> EvaluationResult:
    """The course notebook's flow with the reference functions, default settings."""
    x1, y1, _, _, _ = get_interest_points(pair.image_a, FEATURE_WIDTH)
    x2, y2, _, _, _ = get_interest_points(pair.image_b, FEATURE_WIDTH)
    f1 = get_features(pair.image_a, x1, y1, FEATURE_WIDTH)
    f2 = get_features(pair.image_b, x2, y2, FEATURE_WIDTH)
    matches, _ = match_features(f1, f2, x1, y1, x2, y2)
    return evaluate_matches(matches[:100], x1, y1, x2, y2, pair.ground_truth, pair.scale_factor)


# --- synthetic pairs ------------------------------------------------------------


@pytest.mark.parametrize("name", SYNTHETIC_PHOTOS)
def test_synthetic_pair_images_and_ground_truth(name):
    pair = synthetic_pair(name, seed=0)
    assert pair.name == f"synthetic-{name}-0" and pair.scale_factor == 0.5
    for image in (pair.image_a, pair.image_b):
        assert image.ndim == 2 and image.dtype == np.float32
        assert 0 <= image.min() and image.max() <= 1
    gt = pair.ground_truth
    assert set(gt) == {"x1", "y1", "x2", "y2"} and all(v.shape == (150,) for v in gt.values())
    # Ground truth is full resolution: working / 0.5, and maps through H.
    xa, ya = gt["x1"] * 0.5, gt["y1"] * 0.5
    mapped = pair.homography @ np.stack([xa, ya, np.ones_like(xa)])
    np.testing.assert_allclose(mapped[0] / mapped[2], gt["x2"] * 0.5, atol=1e-9)
    np.testing.assert_allclose(mapped[1] / mapped[2], gt["y2"] * 0.5, atol=1e-9)
    height, width = pair.image_b.shape
    for x, y in ((xa, ya), (gt["x2"] * 0.5, gt["y2"] * 0.5)):
        assert x.min() >= 16 and x.max() <= width - 17 and y.min() >= 16 and y.max() <= height - 17


def test_synthetic_pair_is_deterministic_per_seed():
    a, b, c = synthetic_pair("coffee", 3), synthetic_pair("coffee", 3), synthetic_pair("coffee", 4)
    np.testing.assert_array_equal(a.image_b, b.image_b)
    np.testing.assert_array_equal(a.ground_truth["x2"], b.ground_truth["x2"])
    assert not np.array_equal(a.homography, c.homography)
    np.testing.assert_array_equal(a.image_a, c.image_a)  # same photo


def test_synthetic_image_b_is_the_warped_photo():
    pair = synthetic_pair("camera", 1, blur_sigma=(0, 0), gain=(1, 1), offset=(0, 0), noise=0.0)
    gt = pair.ground_truth
    a = pair.image_a[np.rint(gt["y1"] * 0.5).astype(int), np.rint(gt["x1"] * 0.5).astype(int)]
    b = pair.image_b[np.rint(gt["y2"] * 0.5).astype(int), np.rint(gt["x2"] * 0.5).astype(int)]
    assert np.corrcoef(a, b)[0, 1] > 0.8  # nearest-pixel samples of the same scene points


def test_ground_truth_scores_full_marks_under_the_course_evaluation():
    pair = synthetic_pair("astronaut", 2)
    gt = pair.ground_truth
    result = evaluate_correspondence(*(gt[k][:100] * 0.5 for k in ("x1", "y1", "x2", "y2")), gt)
    assert result.accuracy == 1.0


def test_unknown_synthetic_photo_raises():
    with pytest.raises(ValueError, match="unknown photo"):
        synthetic_pair("lena", 0)


@pytest.mark.parametrize("name", SYNTHETIC_PHOTOS)
@pytest.mark.parametrize("seed", [0, 3])
def test_reference_pipeline_on_synthetic_pairs(name, seed):
    # Measured: 0.97-1.00 over the four photos x seeds 0-5 (24 pairs).
    result = _reference_pipeline(synthetic_pair(name, seed))
    assert result.num_evaluated == 100
    assert result.accuracy >= 0.95


def test_reference_pipeline_loses_accuracy_under_large_rotation():
    # The upright descriptor is not rotation invariant: a 40° turn defeats it,
    # which shows the synthetic pairs can tell detectors apart.
    # Measured with seed 4 (a 40° turn): 1.00 upright, 0.00 rotated.
    pair = synthetic_pair("astronaut", 4, max_rotation_deg=0)
    rotated = synthetic_pair("astronaut", 4, max_rotation_deg=45, scale_range=(1, 1))
    assert abs(np.degrees(np.arctan2(rotated.homography[1, 0], rotated.homography[0, 0]))) > 30
    assert _reference_pipeline(pair).accuracy >= 0.95
    assert _reference_pipeline(rotated).accuracy < 0.5


# --- course pairs ---------------------------------------------------------------


def test_unknown_course_pair_raises():
    with pytest.raises(ValueError, match="unknown course pair"):
        load_course_pair("gaudi")


def test_missing_course_data_raises_course_data_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_DATA", str(tmp_path))
    with pytest.raises(CourseDataMissing, match="notre_dame_gt.npz"):
        load_course_pair("notre_dame")


def _course_pair(name: str) -> FeaturePair:
    if course_data_dir() is None:
        pytest.skip("course data not available (set GRADER_DATA to the course data folder)")
    try:
        return load_course_pair(name)
    except CourseDataMissing as error:
        pytest.skip(str(error))


@pytest.mark.parametrize(
    ("name", "shape_a", "shape_b", "count"),
    [
        ("notre_dame", (1024, 768), (1016, 762), 149),
        ("mount_rushmore", (972, 1296), (1056, 1408), 126),
        ("sydney_opera_house", (640, 960), (719, 954), 8),
    ],
)
def test_course_pair_layout(name, shape_a, shape_b, count):
    pair = _course_pair(name)
    assert name in COURSE_PAIRS and pair.name == name and pair.homography is None
    assert pair.image_a.shape == shape_a and pair.image_b.shape == shape_b
    assert pair.image_a.dtype == np.float32 and 0 <= pair.image_a.min() and pair.image_a.max() <= 1
    assert all(v.shape == (count,) for v in pair.ground_truth.values())
    # Full-resolution ground truth lies inside the full-resolution images.
    assert pair.ground_truth["x1"].max() < shape_a[1] / 0.5 and pair.ground_truth["y2"].max() < shape_b[0] / 0.5


@pytest.mark.parametrize(("name", "measured"), [("notre_dame", 0.99), ("mount_rushmore", 0.99)])
def test_reference_pipeline_reaches_the_goal_on_course_pairs(name, measured):
    result = _reference_pipeline(_course_pair(name))
    assert result.num_evaluated == 100
    assert result.accuracy >= 0.95, f"measured {measured} when written"
