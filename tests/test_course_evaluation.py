"""Tests for grader/datasets/course_evaluation.py (course evaluation and image loading)."""

from __future__ import annotations

import numpy as np
import pytest

from grader.datasets.course_evaluation import (
    EvaluationResult,
    evaluate_correspondence,
    evaluate_matches,
    load_course_image,
    load_image,
    rescale,
    rgb2gray,
)

GT = {"x1": np.array([100.0, 400.0]), "y1": np.array([100.0, 100.0]),
      "x2": np.array([130.0, 400.0]), "y2": np.array([100.0, 150.0])}
# Ground-truth offsets (x1 - x2, y1 - y2): point 0 (-30, 0), point 1 (0, -50).


def _est(points):
    """Working-scale estimates from full-resolution (x1, y1, x2, y2) rows."""
    a = np.asarray(points, float) * 0.5
    return a[:, 0], a[:, 1], a[:, 2], a[:, 3]


def _course_loop(x1_est, y1_est, x2_est, y2_est, gt, scale_factor=0.5, num_req_matches=100):
    """Transliteration of the kit's per-match loop (the oracle)."""
    x1_est, y1_est = x1_est / scale_factor, y1_est / scale_factor
    x2_est, y2_est = x2_est / scale_factor, y2_est / scale_factor
    x1, y1, x2, y2 = (np.asarray(gt[k]).squeeze() for k in ("x1", "y1", "x2", "y2"))
    good = [False] * len(x1_est)
    matched = [False] * len(x1)  # never set: the quirk
    for i in range(len(x1_est)):
        cur_offset = np.asarray([x1_est[i] - x2_est[i], y1_est[i] - y2_est[i]])
        dists = np.linalg.norm(np.vstack((x1_est[i] - x1, y1_est[i] - y1)), axis=0)
        for match_idx in np.argsort(dists):
            if not matched[match_idx]:
                break
        gt_offset = np.asarray([x1[match_idx] - x2[match_idx], y1[match_idx] - y2[match_idx]])
        good[i] = bool(dists[match_idx] < 150.0 and np.linalg.norm(cur_offset - gt_offset) < 25)
    n = len(x1_est)
    return np.mean(good) * min(n, num_req_matches) / num_req_matches, np.array(good)


def test_single_correct_and_wrong_offset():
    r = evaluate_correspondence(*_est([[100, 100, 130, 100], [102, 100, 180, 100]]), GT)
    assert isinstance(r, EvaluationResult)
    assert r.correct.tolist() == [True, False]
    assert r.accuracy == pytest.approx(0.01)  # 1/2 * 2/100
    assert (r.num_evaluated, r.num_correct) == (2, 1)


def test_nearest_ground_truth_point_decides_even_if_another_would_agree():
    # Offset (0, -50) agrees with GT point 1, but GT point 0 is nearer: wrong.
    r = evaluate_correspondence(*_est([[200, 100, 200, 150]]), GT)
    assert r.nearest_gt.tolist() == [0] and r.correct.tolist() == [False]
    # Nearer to point 1 (x = 260 > 250): right.
    r = evaluate_correspondence(*_est([[260, 100, 260, 150]]), GT)
    assert r.nearest_gt.tolist() == [1] and r.correct.tolist() == [True]


def test_thresholds_are_strict_in_full_resolution_pixels():
    # 149.9 px from GT point 0 is within reach, 150 is not; the 25 px offset rule likewise.
    rows = [
        [100, 249.9, 130, 249.9],  # 149.9 px below point 0, same offset: correct
        [100, 250.0, 130, 250.0],  # exactly 150 px: wrong
        [100, 100, 130 + 24.9, 100],  # offset error 24.9: correct
        [100, 100, 130 + 25.0, 100],  # offset error 25: wrong
    ]
    r = evaluate_correspondence(*_est(rows), GT)
    assert r.correct.tolist() == [True, False, True, False]


def test_coordinates_are_divided_by_scale_factor():
    full = np.array([[400, 100, 400, 150]], float)
    r = evaluate_correspondence(*(full.T * 0.25), GT, scale_factor=0.25)
    assert r.correct.tolist() == [True]
    r = evaluate_correspondence(*(full.T * 0.25), GT, scale_factor=0.5)  # wrong scale
    assert r.correct.tolist() == [False]


def test_no_one_to_one_constraint():
    rows = [[100 + i, 100 - i, 130 + i, 100 - i] for i in range(10)]
    r = evaluate_correspondence(*_est(rows), GT)
    assert r.correct.all() and np.all(r.nearest_gt == 0)


def test_first_100_in_the_given_order_are_evaluated():
    good, bad = [100, 100, 130, 100], [100, 100, 300, 100]
    r = evaluate_correspondence(*_est([good] * 100 + [bad] * 20), GT)
    assert r.accuracy == 1.0 and r.num_evaluated == 100
    r = evaluate_correspondence(*_est([bad] * 20 + [good] * 100), GT)
    assert r.accuracy == pytest.approx(0.8) and r.correct[:20].sum() == 0


def test_fewer_than_100_matches_scale_the_score_down():
    good = [100, 100, 130, 100]
    assert evaluate_correspondence(*_est([good] * 50), GT).accuracy == pytest.approx(0.5)
    assert evaluate_correspondence(*_est([good] * 10), GT, num_req_matches=20).accuracy == pytest.approx(0.5)
    empty = evaluate_correspondence([], [], [], [], GT)
    assert empty.accuracy == 0.0 and empty.correct.shape == (0,)


def test_agrees_with_the_course_loop_on_random_matches():
    rng = np.random.default_rng(0)
    gt = {k: rng.uniform(0, 1500, 149) for k in ("x1", "y1")}
    gt["x2"] = gt["x1"] + rng.normal(40, 10, 149)
    gt["y2"] = gt["y1"] + rng.normal(-20, 10, 149)
    idx = rng.integers(0, 149, 100)
    x1 = (gt["x1"][idx] + rng.normal(0, 80, 100)) * 0.5
    y1 = (gt["y1"][idx] + rng.normal(0, 80, 100)) * 0.5
    x2 = x1 - (gt["x1"][idx] - gt["x2"][idx]) * 0.5 + rng.normal(0, 10, 100)
    y2 = y1 - (gt["y1"][idx] - gt["y2"][idx]) * 0.5 + rng.normal(0, 10, 100)
    expected_accuracy, expected_correct = _course_loop(x1, y1, x2, y2, gt)
    r = evaluate_correspondence(x1, y1, x2, y2, {k: v[:, None] for k, v in gt.items()})  # (G, 1) like the pickles
    np.testing.assert_array_equal(r.correct, expected_correct)
    assert r.accuracy == pytest.approx(expected_accuracy)
    assert 0.1 < r.accuracy < 0.9  # the random case exercises both outcomes


def test_evaluate_matches_indexes_keypoints_in_order():
    x1, y1 = np.array([0.0, 50.0]), np.array([0.0, 50.0])
    x2, y2 = np.array([65.0, 0.0, 90.0]), np.array([50.0, 0.0, 50.0])
    r = evaluate_matches(np.array([[1, 0], [1, 2], [0, 1]]), x1, y1, x2, y2, GT)
    assert r.correct.tolist() == [True, False, False]
    r = evaluate_matches(np.array([[0, 1], [1, 0]]), x1, y1, x2, y2, GT)
    assert r.correct.tolist() == [False, True]
    assert evaluate_matches(np.zeros((0, 2), int), x1, y1, x2, y2, GT).accuracy == 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: evaluate_correspondence([1], [1], [1], [1, 2], GT), "equal lengths"),
        (lambda: evaluate_correspondence([1], [1], [1], [1], {"x1": [1]}), "lacks the keys"),
        (lambda: evaluate_correspondence([1], [1], [1], [1], GT, scale_factor=0), "scale_factor"),
        (lambda: evaluate_correspondence([1], [1], [1], [1], GT, num_req_matches=0), "num_req_matches"),
        (lambda: evaluate_matches(np.zeros((3, 3), int), [0], [0], [0], [0], GT), r"\(K, 2\)"),
        (lambda: rgb2gray(np.zeros((4, 4))), "RGB"),
        (lambda: rescale(np.zeros(4)), "dimensions"),
    ],
)
def test_bad_input_raises_one_sentence_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- image loading as the F18 notebook does -----------------------------------


@pytest.mark.parametrize("shape", [(41, 30), (40, 64), (7, 9)])
@pytest.mark.parametrize("scale", [0.5, 0.7, 2.0])
def test_rescale_matches_cv2_resize_linear(shape, scale):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    image = rng.random((*shape, 3)).astype(np.float32)
    expected = cv2.resize(image, (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(rescale(image, scale), expected, atol=1e-5)
    np.testing.assert_allclose(rescale(image[..., 0], scale), expected[..., 0], atol=1e-5)


def test_half_scale_is_the_mean_of_2x2_blocks():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_allclose(rescale(image, 0.5), [[2.5, 4.5], [10.5, 12.5]])


def test_rgb2gray_matches_cv2_and_luma_weights():
    rng = np.random.default_rng(1)
    image = rng.random((5, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(rgb2gray(image), image @ [0.299, 0.587, 0.114], atol=1e-6)
    cv2 = pytest.importorskip("cv2")
    np.testing.assert_allclose(rgb2gray(image), cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), atol=1e-6)


def test_load_course_image_matches_the_cv2_notebook_pipeline(tmp_path):
    cv2 = pytest.importorskip("cv2")
    from PIL import Image

    rng = np.random.default_rng(2)
    pixels = (rng.random((50, 38, 3)) * 255).astype(np.uint8)
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path, quality=90)
    rgb = load_image(path)
    assert rgb.dtype == np.float32 and rgb.shape == (50, 38, 3) and 0 <= rgb.min() and rgb.max() <= 1
    notebook = cv2.imread(str(path)).astype(np.float32) / 255
    notebook = np.ascontiguousarray(notebook[:, :, ::-1])
    np.testing.assert_allclose(rgb, notebook, atol=1e-6)
    notebook = cv2.cvtColor(cv2.resize(notebook, (0, 0), fx=0.5, fy=0.5), cv2.COLOR_RGB2GRAY)
    ours = load_course_image(path)
    assert ours.shape == (25, 19) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, notebook, atol=1e-5)


def test_the_proj2_kits_utils_loads_the_ground_truth_draws_and_evaluates_as_the_course(tmp_path):
    """The kit's utils.py (provided: it replaces a student's copy) keeps the course's helpers:
    the ground truth from its pickle, points and matches drawn, the notebook's accuracy."""
    import importlib.util
    import pickle
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "assignments" / "proj2_features" / "kit" / "utils.py"
    spec = importlib.util.spec_from_file_location("proj2_utils", path)
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    truth = {"x1": np.array([[100.0], [300.0]]), "y1": np.array([[100.0], [50.0]]),
             "x2": np.array([[130.0], [310.0]]), "y2": np.array([[100.0], [60.0]])}
    pkl = tmp_path / "pair.pkl"
    pkl.write_bytes(pickle.dumps(truth))
    assert [v.tolist() for v in utils.load_corr_pkl_file(pkl)] == [[100, 300], [100, 50], [130, 310], [100, 60]]
    assert [v.tolist() for v in utils.cheat_interest_points(pkl, 0.5)][0] == [50, 150]
    image_a, image_b = np.zeros((120, 200)), np.zeros((90, 160, 3))
    drawn = utils.show_interest_points(image_a, [20, 50], [30, 60])
    assert drawn.shape == (120, 200, 3) and drawn.sum() > 0 and image_a.sum() == 0
    pair = utils.show_correspondence_lines(image_a, image_b, [20], [30], [40], [50])
    assert pair.shape == (120, 360, 3) and pair.sum() > 0
    accuracy, picture = utils.evaluate_correspondence(
        image_a, image_b, pkl, 0.5, np.array([50.0, 51.0]), np.array([50.0, 50.0]),
        np.array([65.0, 90.0]), np.array([50.0, 50.0]))
    expected = evaluate_correspondence([50, 51], [50, 50], [65, 90], [50, 50],
                                       {k: v.ravel() for k, v in truth.items()})
    assert accuracy == expected.accuracy == 0.01 and picture.shape == (120, 360, 3)
