"""Tests for reference/harris.py (Harris corners, NMS, border, ANMS)."""

from __future__ import annotations

import numpy as np
import pytest

from reference.harris import get_interest_points, harris_response


def _square(size: int = 64, lo: int = 20, hi: int = 44) -> np.ndarray:
    image = np.zeros((size, size), np.float32)
    image[lo:hi, lo:hi] = 1
    return image


def _checkerboard(cell: int = 12, cells: int = 8, pad: int = 20) -> np.ndarray:
    board = (np.indices((cells, cells)).sum(0) % 2).astype(np.float32)
    board = np.kron(board, np.ones((cell, cell), np.float32))
    return np.pad(board, pad, constant_values=0.5)


def test_returns_five_values_with_course_types():
    x, y, confidences, scales, orientations = get_interest_points(_square(), 16)
    assert x.shape == y.shape == confidences.shape == (4,)
    assert x.dtype.kind == y.dtype.kind == "i"
    assert scales is None and orientations is None


def test_square_corners_found_at_known_positions():
    # Corners of the square sit between pixels 19/20 and 43/44; the windowed
    # response peaks 1.5 px inside, symmetric about the centre (31.5).
    x, y, conf, _, _ = get_interest_points(_square(), 16, num_points=10)
    assert sorted(zip(x.tolist(), y.tolist())) == [(21, 21), (21, 42), (42, 21), (42, 42)]
    np.testing.assert_allclose(conf, conf[0])


def test_checkerboard_corners_all_found_and_nothing_else():
    cell, cells, pad = 12, 8, 20
    image = _checkerboard(cell, cells, pad)
    x, y, _, _, _ = get_interest_points(image, 16, num_points=500, threshold=0.05)

    def lattice(first, last):  # corners sit between pixels
        coords = pad + cell * np.arange(first, last) - 0.5
        gx, gy = np.meshgrid(coords, coords)
        return np.stack([gx.ravel(), gy.ravel()], 1)

    found = np.stack([x, y], 1).astype(float)
    every = np.linalg.norm(found[:, None] - lattice(0, cells + 1)[None], axis=2)
    assert np.all(every.min(axis=1) <= 1.0), "a point away from every lattice corner"
    interior = np.linalg.norm(found[:, None] - lattice(1, cells)[None], axis=2)
    assert np.all(interior.min(axis=0) <= 1.0), "an interior X-junction was missed"


@pytest.mark.parametrize("feature_width", [8, 16, 32])
def test_border_keeps_the_whole_window_inside(feature_width):
    rng = np.random.default_rng(0)
    image = rng.random((90, 70)).astype(np.float32)
    x, y, _, _, _ = get_interest_points(image, feature_width, num_points=10_000)
    half = feature_width // 2
    assert len(x) > 0
    assert x.min() >= half and x.max() + half - 1 <= image.shape[1] - 1
    assert y.min() >= half and y.max() + half - 1 <= image.shape[0] - 1


def test_sorted_strongest_first_and_truncated():
    rng = np.random.default_rng(1)
    image = rng.random((80, 80)).astype(np.float32)
    x, y, conf, _, _ = get_interest_points(image, 16, num_points=25)
    assert len(x) == 25
    assert np.all(np.diff(conf) <= 0)
    all_x, all_y, all_conf, _, _ = get_interest_points(image, 16, num_points=10_000)
    np.testing.assert_array_equal(conf, all_conf[:25])


def test_points_are_local_maxima_of_the_response():
    rng = np.random.default_rng(2)
    image = rng.random((60, 60)).astype(np.float32)
    response = harris_response(image)
    x, y, conf, _, _ = get_interest_points(image, 16, num_points=1000)
    np.testing.assert_allclose(conf, response[y, x])
    padded = np.pad(response, 1, constant_values=-np.inf)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            assert np.all(response[y, x] >= padded[y + 1 + dy, x + 1 + dx])


def test_response_sign_corner_edge_flat():
    response = harris_response(_square())
    assert response[21, 21] > 0  # corner
    assert response[31, 20] < 0  # edge
    assert abs(response[31, 31]) < 1e-12  # flat interior


def test_transpose_swaps_x_and_y():
    rng = np.random.default_rng(3)
    image = rng.random((70, 50)).astype(np.float32)
    x, y, _, _, _ = get_interest_points(image, 16, num_points=10_000)
    xt, yt, _, _, _ = get_interest_points(image.T.copy(), 16, num_points=10_000)
    assert set(zip(x.tolist(), y.tolist())) == set(zip(yt.tolist(), xt.tolist()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_dtypes_give_the_same_points(dtype):
    rng = np.random.default_rng(4)
    image = (rng.random((50, 50)) * 255).round()
    x, y, _, _, _ = get_interest_points(image.astype(np.float64), 16)
    xd, yd, _, _, _ = get_interest_points(image.astype(dtype), 16)
    np.testing.assert_array_equal(x, xd)
    np.testing.assert_array_equal(y, yd)


def test_flat_and_tiny_images_give_empty_arrays():
    for image in (np.full((40, 40), 0.3, np.float32), np.zeros((10, 10), np.float32)):
        x, y, conf, _, _ = get_interest_points(image, 16)
        assert x.shape == y.shape == conf.shape == (0,)


def test_anms_spreads_points_and_keeps_count():
    rng = np.random.default_rng(5)
    image = rng.random((120, 120)).astype(np.float32)
    image[20:60, 20:60] *= 4  # a high-contrast region hogs the strongest corners

    def min_spacing(x, y):
        d = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
        np.fill_diagonal(d, np.inf)
        return d.min(axis=1).mean()

    x, y, _, _, _ = get_interest_points(image, 16, num_points=60)
    xa, ya, _, _, _ = get_interest_points(image, 16, num_points=60, anms=True)
    assert len(xa) == 60
    assert min_spacing(xa, ya) > min_spacing(x, y)
    # ANMS takes points outside the high-contrast square too.
    outside = ~((xa >= 20) & (xa < 60) & (ya >= 20) & (ya < 60))
    assert outside.sum() > (~((x >= 20) & (x < 60) & (y >= 20) & (y < 60))).sum()


def test_ranking_agrees_with_skimage_corner_harris():
    skimage = pytest.importorskip("skimage")
    from scipy.stats import spearmanr
    from skimage.feature import corner_harris, corner_peaks

    image = skimage.data.camera().astype(np.float32) / 255
    x, y, conf, _, _ = get_interest_points(image, 16, num_points=100)
    theirs = corner_harris(image, method="k", k=0.05, sigma=2)
    assert spearmanr(conf, theirs[y, x]).statistic > 0.9
    peaks = corner_peaks(theirs, min_distance=1, threshold_rel=1e-5, exclude_border=8, num_peaks=100)
    dist = np.hypot(y[:, None] - peaks[None, :, 0], x[:, None] - peaks[None, :, 1]).min(axis=1)
    assert np.mean(dist <= 2) >= 0.8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(image=np.zeros((8, 8, 3)), feature_width=16), "2-D"),
        (dict(image=np.zeros((32, 32)), feature_width=10), "multiple of 4"),
        (dict(image=np.zeros((32, 32)), feature_width=0), "multiple of 4"),
        (dict(image=np.zeros((32, 32)), feature_width=16, num_points=0), "num_points"),
        (dict(image=np.full((32, 32), np.nan), feature_width=16), "NaN"),
    ],
)
def test_bad_input_raises_one_sentence_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_interest_points(**kwargs)
