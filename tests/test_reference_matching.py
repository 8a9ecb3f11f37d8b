"""Tests for reference/matching.py (distances and the NNDR ratio test)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from reference.matching import compute_feature_distances, match_features


def _unit(degrees) -> np.ndarray:
    radians = np.deg2rad(np.asarray(degrees, float))
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_course_four_vs_four_unit_vectors_all_match():
    # Course unit test shape: 4 vs 4 unit vectors, NNDR well below 0.8, and the
    # result sorted by column 0 must be exactly [[0, 2], [1, 3], [2, 0], [3, 1]].
    features2 = _unit([0, 90, 180, 270])
    features1 = _unit([190, 280, 10, 100])
    x = np.zeros(4)
    matches, confidences = match_features(features1, features2, x, x, x, x)
    assert matches.dtype.kind == "i" and matches.shape == (4, 2) and confidences.shape == (4,)
    sorted_matches = matches[np.argsort(matches[:, 0])]
    np.testing.assert_array_equal(sorted_matches, [[0, 2], [1, 3], [2, 0], [3, 1]])


def test_distances_match_scipy_cdist():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 128)), rng.normal(size=(4, 128))
    d = compute_feature_distances(a, b)
    assert d.shape == (3, 4)
    np.testing.assert_allclose(d, cdist(a, b), atol=1e-9)
    # Identical rows: clipping at 0 keeps the square root real.
    np.testing.assert_allclose(np.diag(compute_feature_distances(a, a)), 0, atol=1e-6)


def test_confidence_is_one_minus_nndr_sorted_descending():
    rng = np.random.default_rng(1)
    f1, f2 = rng.normal(size=(60, 16)), rng.normal(size=(80, 16))
    f1[:20] = f2[:20] + 0.05 * rng.normal(size=(20, 16))  # 20 true matches
    matches, confidences = match_features(f1, f2, ratio=1.0)
    d = cdist(f1, f2)
    part = np.sort(d, axis=1)
    nndr = part[:, 0] / part[:, 1]
    np.testing.assert_allclose(confidences, 1 - nndr[matches[:, 0]], atol=1e-9)
    np.testing.assert_array_equal(matches[:, 1], d[matches[:, 0]].argmin(axis=1))
    assert np.all(np.diff(confidences) <= 0)
    assert len(matches) == 60
    strict, strict_conf = match_features(f1, f2, ratio=0.5)
    assert np.all(strict_conf > 0.5)
    np.testing.assert_array_equal(np.sort(strict[:, 0]), np.arange(20))
    np.testing.assert_array_equal(strict[:, 0], strict[:, 1])


def test_same_matches_as_skimage_match_descriptors():
    skimage_feature = pytest.importorskip("skimage.feature")
    rng = np.random.default_rng(2)
    f1, f2 = rng.normal(size=(100, 32)), rng.normal(size=(120, 32))
    f1[:40] = f2[10:50] + 0.1 * rng.normal(size=(40, 32))
    ours, _ = match_features(f1, f2, ratio=0.8)
    theirs = skimage_feature.match_descriptors(f1, f2, max_ratio=0.8, cross_check=False)
    assert set(map(tuple, ours.tolist())) == set(map(tuple, theirs.tolist()))


def test_many_to_one_matches_are_allowed():
    f2 = _unit([0, 120, 240])
    f1 = _unit([5, -5, 3])
    matches, _ = match_features(f1, f2)
    np.testing.assert_array_equal(np.sort(matches[:, 0]), [0, 1, 2])
    assert np.all(matches[:, 1] == 0)


def test_empty_and_degenerate_inputs_give_shaped_results():
    for f1, f2 in [
        (np.zeros((0, 128)), np.zeros((5, 128))),
        (np.zeros((5, 128)), np.zeros((0, 128))),
        (np.ones((3, 128)), np.ones((1, 128))),
    ]:
        matches, confidences = match_features(f1, f2)
        assert matches.shape == (0, 2) and confidences.shape == (0,)
    assert compute_feature_distances(np.zeros((0, 4)), np.zeros((2, 4))).shape == (0, 2)
    # All-equal distances give NNDR 1: no match, no division warning.
    matches, _ = match_features(np.ones((2, 4)), np.ones((3, 4)))
    assert matches.shape == (0, 2)


@pytest.mark.parametrize(
    ("f1", "f2", "kwargs", "message"),
    [
        (np.zeros(4), np.zeros((2, 4)), {}, "2-D"),
        (np.zeros((2, 4)), np.zeros((2, 5)), {}, "same dimension"),
        (np.zeros((2, 4)), np.zeros((2, 4)), dict(ratio=0), "ratio"),
        (np.zeros((2, 4)), np.zeros((2, 4)), dict(ratio=1.5), "ratio"),
        (np.full((2, 4), np.nan), np.zeros((2, 4)), {}, "NaN"),
    ],
)
def test_bad_input_raises_one_sentence_value_error(f1, f2, kwargs, message):
    with pytest.raises(ValueError, match=message):
        match_features(f1, f2, **kwargs)
