"""The ``property`` kind and the Project 2 stage properties, judged without a sandbox."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from scipy import ndimage

from grader import inputs
from grader.checks.base import CheckContext
from grader.checks.property import PropertyCheck
from grader.prepare.prepared import PreparedCase, PreparedCheck, as_outputs
from grader.rubric.load import Check
from grader.sandbox import CallOutcome
from reference import harris
from reference.harris import get_interest_points
from reference.matching import match_features
from reference.sift import get_features


def _check(output: str, properties: dict, **options) -> Check:
    return Check(id="p", name="p", kind="property", target="m:f", points=2,
                 cases=[{"args": {"a": {"value": 0}}}],
                 options={"output": output, "properties": properties, **options})


def _prepared(check: Check, args: dict, expected: list) -> PreparedCheck:
    return PreparedCheck(check, [PreparedCase("c", "", list(args), list(args.values()), expected)])


class _Session:
    """Runs the given function in process, like the worker would (one value per call)."""

    def __init__(self, function):
        self.function = function

    def call(self, module, function, args, timeout_s):
        return CallOutcome("returned", as_outputs(self.function(*args)),
                           isinstance(self.function(*args), tuple))

    def run(self, module, steps, returns, timeout_s):
        results = [self.function(*s.args) for s in steps]
        return CallOutcome("returned", [_lookup(results[r.step], r.index) for r in returns], False)


def _lookup(value, index):
    """Like the worker: value ``index`` of a returned tuple, ``None`` past its end."""
    if index is None:
        return value
    return value[index] if index < len(value) else None


def _grade(check: Check, args: dict, student, reference=None) -> object:
    expected = as_outputs(reference(*args.values(), **check.options.get("reference_kwargs", {}))) \
        if reference else []
    return PropertyCheck().run(_prepared(check, args, expected), CheckContext(_Session(student), 5))


RECTS = {"image": inputs.rectangles([160, 200], 6, 0), "feature_width": 16}
CAMERA = {"image": inputs.image("skimage:camera", scale=0.5),
          "x": inputs.integers([40], 1, 236, 20), "y": inputs.integers([40], 2, 236, 20),
          "feature_width": 16}


def test_reference_harris_finds_its_own_corners_and_noise_does_not():
    check = _check("interest_points", {"keypoint_recall": {"top": 24}})
    assert _grade(check, RECTS, get_interest_points, get_interest_points).score == 2

    def random_points(image, width):
        rng = np.random.default_rng(0)
        return rng.integers(8, 150, 50), rng.integers(8, 150, 50), None, None, None

    result = _grade(check, RECTS, random_points, get_interest_points)
    assert result.score == 0 and "strongest corners" in result.message


def test_harris_with_two_returns_is_ranked_as_returned_with_a_note():
    check = _check("interest_points", {"keypoint_recall": {"top": 24}})
    result = _grade(check, RECTS, lambda i, w: get_interest_points(i, w)[:2], get_interest_points)
    assert result.score == 2 and "returned 2 values" in result.message


WIDE = {"image": inputs.rectangles([120, 320], 4, 5), "feature_width": 16}
DISC = {"image": inputs.disc_and_square([200, 300], 70, 30), "feature_width": 16}
CHELSEA = {"image": inputs.image("skimage:chelsea", scale=0.5, gray=True), "feature_width": 16}


def _unwindowed_syy(image, sigma_d=1.0, sigma_i=2.0, alpha=0.05):
    """A Harris response that forgets to window Iy² (a real slip): not symmetric in x and y."""
    ix = ndimage.gaussian_filter(image.astype(float), sigma_d, order=(0, 1))
    iy = ndimage.gaussian_filter(image.astype(float), sigma_d, order=(1, 0))
    sxx, sxy = (ndimage.gaussian_filter(v, sigma_i) for v in (ix * ix, ix * iy))
    syy = iy * iy
    return sxx * syy - sxy * sxy - alpha * (sxx + syy) ** 2


def test_corners_turn_with_the_image_unless_x_and_y_are_treated_differently():
    check = _check("interest_points", {"rotation_covariant": {"top": 20}})
    for case in (RECTS, WIDE, CHELSEA):
        result = _grade(check, case, get_interest_points)
        assert result.score == 2 and result.details["rotation_recall"] >= 0.9, result.message
    sobel_like = lambda i, w: get_interest_points(i, w, sigma_d=0.7, sigma_i=3.0, alpha=0.04)  # noqa: E731
    assert _grade(check, CHELSEA, sobel_like).score == 2

    def lopsided(image, width):
        with mock.patch.object(harris, "harris_response", _unwindowed_syy):
            return get_interest_points(image, width)

    assert _grade(check, RECTS, lopsided).score == 2  # symmetric corners cannot tell...
    result = _grade(check, CHELSEA, lopsided)  # ...a photo can
    assert result.score == 0 and "turning the image by 90°" in result.message


def test_faint_corners_outrank_a_strong_edge_unless_edges_respond_positively():
    check = _check("interest_points", {"keypoint_recall": {"top": 4, "slack": 1, "min_recall": 0.75}})
    assert _grade(check, DISC, get_interest_points, get_interest_points).score == 2
    for alpha in (0.04, 0.06):  # any Harris constant in the usual range
        sensible = lambda i, w, a=alpha: get_interest_points(i, w, alpha=a, sigma_i=3.0)  # noqa: E731
        assert _grade(check, DISC, sensible, get_interest_points).score == 2
    edgy = lambda i, w: get_interest_points(i, w, alpha=-0.05)  # noqa: E731  det + 0.05 trace²
    assert _grade(check, DISC, edgy, get_interest_points).score == 0


def test_descriptor_properties_hold_for_the_reference():
    check = _check("descriptors", {"unit_norm": {}, "offset_invariant": {}, "clipped": {},
                                   "near_reference": {"min_cosine": 0.99}})
    assert _grade(check, CAMERA, get_features, get_features).score == 2


def test_descriptor_variants_shape_and_unclipped_are_told_apart():
    def bent(image, x, y, width):
        return get_features(image, x, y, width, clip=None, power=1)[:, None, :]

    result = _grade(_check("descriptors", {"clipped": {}}), CAMERA, bent)
    assert result.score == 0 and "clip at 0.2" in result.message
    assert "(40, 1, 128), read as (40, 128)" in result.message
    near = _check("descriptors", {"near_reference": {"min_cosine": 0.75}},
                  reference_kwargs={"power": 1.0, "clip": None})
    assert _grade(near, CAMERA, bent, get_features).score == 2


def test_brightness_dependent_and_unnormalised_descriptors_fail():
    def raw_patch(image, x, y, width):
        return np.stack([image[r - 8:r + 8, c - 8:c + 8].ravel()[:128] for c, r in zip(x, y)])

    result = _grade(_check("descriptors", {"unit_norm": {}, "offset_invariant": {}}), CAMERA,
                    raw_patch)
    assert result.score == 0
    assert "unit length" in result.message and "adding 0.1" in result.message


def test_clipping_before_normalising_makes_descriptors_depend_on_contrast():
    check = _check("descriptors", {"contrast_invariant": {}, "offset_invariant": {}})
    assert _grade(check, CAMERA, get_features).score == 2

    def clip_first(image, x, y, width):
        raw = get_features(image, x, y, width, clip=None, power=1.0)
        magnitude = np.linalg.norm(get_features(image * 0 + 1, x, y, width))  # zero: no gradient
        scaled = raw * (np.ptp(image) * 4 + magnitude)  # unnormalised: scales with contrast
        clipped = np.minimum(scaled, 0.2)
        return clipped / np.linalg.norm(clipped, axis=1, keepdims=True)

    result = _grade(check, CAMERA, clip_first)
    assert result.score == 0 and "multiplying every pixel by 0.5" in result.message


def test_wrong_descriptor_count_is_one_sentence():
    result = _grade(_check("descriptors", {"unit_norm": {}}), CAMERA,
                    lambda i, x, y, w: get_features(i, x, y, w).T)
    assert result.score == 0 and "expected 40 rows" in result.message and "transposed" in result.message


FOUR = {"features1": np.array([[0.7071, 0.7071], [-0.7071, 0.7071], [-0.7071, -0.7071], [0.7071, -0.7071]]),
        "features2": np.array([[-0.4848, -0.8746], [0.8746, -0.4848], [0.4848, 0.8746], [-0.8746, 0.4848]]),
        "x1": np.arange(4), "y1": np.arange(4), "x2": np.arange(4), "y2": np.arange(4)}


def test_course_four_by_four_matches_in_any_order_with_distance_confidences():
    check = _check("matches", {"same_matches": {}})
    expected = match_features(FOUR["features1"], FOUR["features2"])[0]
    assert sorted(expected.tolist()) == [[0, 2], [1, 3], [2, 0], [3, 1]]

    def unsorted(f1, f2, *xy):
        m, c = match_features(f1, f2)
        return m[::-1], 1 - c[::-1]

    assert _grade(check, FOUR, unsorted, match_features).score == 2
    result = _grade(check, FOUR, lambda f1, f2, *xy: (np.array([[0, 2], [1, 2]]), np.ones(2)),
                    match_features)
    assert result.score == 0 and "25% of the expected pairs found" in result.message


def test_planted_matches_are_recovered_by_the_reference():
    a, b = (inputs.planted_descriptors(40, 60, 5, w) for w in "ab")
    matches, _ = match_features(a, b)
    assert sorted(map(tuple, matches.tolist())) == [(i, (i * 7 + 3) % 40) for i in range(40)]


RANKED = {"features1": inputs.ranked_descriptors(30, 20, 30, 0, "a"),
          "features2": inputs.ranked_descriptors(30, 20, 30, 0, "b"),
          "x1": np.arange(80.0), "y1": np.arange(80.0), "x2": np.arange(100.0), "y2": np.arange(100.0)}


def test_the_ratio_test_ranks_distinctive_matches_first_and_the_nearest_distance_does_not():
    check = _check("matches", {"confident_matches": {}})
    assert _grade(check, RANKED, match_features, match_features).score == 2
    assert _grade(check, RANKED, lambda *a: match_features(*a[:2], ratio=1.0), match_features).score == 2

    def nearest_first(f1, f2, *xy):
        d = np.linalg.norm(f1[:, None] - f2[None], axis=2)
        order = np.argsort(d.min(axis=1))
        return np.stack([order, d.argmin(axis=1)[order]], axis=1), -d.min(axis=1)[order]

    result = _grade(check, RANKED, nearest_first, match_features)
    assert result.score == 0 and "most distinctive" in result.message


def test_a_matcher_that_does_not_rank_at_all_is_not_ranked_by_accident():
    """The true matches do not come first in query order (the weakest do), so returning the
    ratio test's survivors in query order, unsorted, is no ranking."""
    check = _check("matches", {"confident_matches": {}})

    def unranked(f1, f2, *xy):
        matches, confidences = match_features(f1, f2)
        order = np.argsort(matches[:, 0], kind="stable")
        return matches[order], confidences[order]

    assert _grade(check, RANKED, unranked, match_features).score == 0


@pytest.mark.parametrize("options, text", [
    ({"output": "pixels", "properties": {"unit_norm": {}}}, "output must be one of"),
    ({"output": "descriptors", "properties": {}}, "non-empty"),
    ({"output": "descriptors", "properties": {"shiny": {}}}, "unknown property 'shiny'"),
    ({"output": "descriptors", "properties": {"unit_norm": {"tolerance": 1}}}, "no parameter"),
    ({"output": "descriptors", "properties": {"unit_norm": {}}, "extra": 1}, "unknown option"),
])
def test_options_are_validated(options, text):
    assert text in PropertyCheck.options_problem(options).message


@pytest.mark.parametrize("shift, reverse", [(3, False), (1, True), (0, True)])
def test_where_the_orientation_bins_start_is_the_students_choice(shift, reverse):
    """F18 asks for an 8-orientation histogram per cell, not where bin 0 starts nor which
    way the bins turn: the same descriptor, its bins turned, keeps the layout's points."""
    def turned(image, x, y, width):
        grid = get_features(image, x, y, width, clip=None, power=1).reshape(-1, 16, 8)
        grid = grid[..., ::-1] if reverse else grid
        return np.roll(grid, shift, axis=2).reshape(-1, 128)

    near = _check("descriptors", {"near_reference": {"min_cosine": 0.75}},
                  reference_kwargs={"power": 1.0, "clip": None})
    result = _grade(near, CAMERA, turned, get_features)
    assert result.score == 2, result.message

    def cells_scrambled(image, x, y, width):  # not a choice: the cell order is row-major
        grid = get_features(image, x, y, width, clip=None, power=1).reshape(-1, 16, 8)
        return grid[:, np.random.default_rng(0).permutation(16)].reshape(-1, 128)

    assert _grade(near, CAMERA, cells_scrambled, get_features).score == 0
