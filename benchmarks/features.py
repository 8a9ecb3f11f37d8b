"""Benchmark Project 2 feature pipelines under the course evaluation.

Prints a Markdown table: for each image pair (Notre Dame, Mount Rushmore when
the course data is present, and synthetic pairs) and each method, the top-100
accuracy of the course evaluation, the number of correct matches, the time of
each stage (best of ``--repeat`` runs) and descriptors per second. Everything
runs single-threaded.

Methods
-------
reference
    reference.harris + reference.sift + reference.matching (defaults).
opencv-dog-sift
    ``cv2.SIFT_create()`` detector and descriptor, ``BFMatcher`` k=2 with
    Lowe's ratio 0.8, sorted by ratio.
opencv-sift-on-harris
    Reference Harris corners, described by OpenCV SIFT as upright keypoints
    of size 16, matched with reference.matching.
skimage-harris-brief
    ``corner_harris`` + ``corner_peaks`` (5000 peaks), ``BRIEF`` descriptors,
    ``match_descriptors`` (Hamming, ratio 0.8), sorted by Hamming distance.

Run: ``python benchmarks/features.py [--repeat N]``. OpenCV and scikit-image
rows are skipped when those packages are absent.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.datapath import CourseDataMissing  # noqa: E402
from grader.datasets.feature_pairs import FeaturePair, load_course_pair, synthetic_pair  # noqa: E402
from grader.datasets.course_evaluation import evaluate_correspondence  # noqa: E402
from reference.harris import get_interest_points  # noqa: E402
from reference.matching import match_features  # noqa: E402
from reference.sift import get_features  # noqa: E402

try:
    import cv2

    cv2.setNumThreads(1)
except ImportError:  # pragma: no cover - optional
    cv2 = None

FEATURE_WIDTH = 16


def _best(function, repeat):
    """(result, best wall time in seconds) of ``repeat`` calls."""
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


def _uint8(image):
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def reference_method(a, b, repeat):
    (pa, pb), t_detect = _best(lambda: (get_interest_points(a, FEATURE_WIDTH), get_interest_points(b, FEATURE_WIDTH)), repeat)
    (x1, y1), (x2, y2) = pa[:2], pb[:2]
    (f1, f2), t_describe = _best(lambda: (get_features(a, x1, y1, FEATURE_WIDTH), get_features(b, x2, y2, FEATURE_WIDTH)), repeat)
    (matches, _), t_match = _best(lambda: match_features(f1, f2), repeat)
    return x1, y1, x2, y2, matches, (t_detect, t_describe, t_match)


def opencv_dog_sift(a, b, repeat):
    sift = cv2.SIFT_create()
    ua, ub = _uint8(a), _uint8(b)
    (ka, kb), t_detect = _best(lambda: (sift.detect(ua, None), sift.detect(ub, None)), repeat)
    ((ka, da), (kb, db)), t_describe = _best(lambda: (sift.compute(ua, ka), sift.compute(ub, kb)), repeat)
    matcher = cv2.BFMatcher(cv2.NORM_L2)

    def match():
        pairs = [p for p in matcher.knnMatch(da, db, k=2) if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
        pairs.sort(key=lambda p: p[0].distance / max(p[1].distance, 1e-12))
        return np.array([[p[0].queryIdx, p[0].trainIdx] for p in pairs], np.int64).reshape(-1, 2)

    matches, t_match = _best(match, repeat)
    pa, pb = np.array([k.pt for k in ka]), np.array([k.pt for k in kb])
    return pa[:, 0], pa[:, 1], pb[:, 0], pb[:, 1], matches, (t_detect, t_describe, t_match)


def opencv_sift_on_harris(a, b, repeat):
    sift = cv2.SIFT_create()
    ua, ub = _uint8(a), _uint8(b)
    (pa, pb), t_detect = _best(lambda: (get_interest_points(a, FEATURE_WIDTH), get_interest_points(b, FEATURE_WIDTH)), repeat)

    def describe(image, points):
        keypoints = [cv2.KeyPoint(float(x), float(y), FEATURE_WIDTH, 0) for x, y in zip(points[0], points[1])]
        keypoints, descriptors = sift.compute(image, keypoints)
        return np.array([k.pt for k in keypoints]).reshape(-1, 2), descriptors

    ((qa, da), (qb, db)), t_describe = _best(lambda: (describe(ua, pa), describe(ub, pb)), repeat)
    (matches, _), t_match = _best(lambda: match_features(da, db), repeat)
    return qa[:, 0], qa[:, 1], qb[:, 0], qb[:, 1], matches, (t_detect, t_describe, t_match)


def skimage_harris_brief(a, b, repeat):
    from skimage.feature import BRIEF, corner_harris, corner_peaks, match_descriptors

    def detect(image):
        return corner_peaks(corner_harris(image, method="k", k=0.05, sigma=2), min_distance=1,
                            threshold_rel=1e-5, exclude_border=FEATURE_WIDTH // 2, num_peaks=5000)

    (ka, kb), t_detect = _best(lambda: (detect(a), detect(b)), repeat)

    def describe(image, keypoints):
        brief = BRIEF(descriptor_size=256, patch_size=25, rng=0)
        brief.extract(image, keypoints)
        return keypoints[brief.mask], brief.descriptors

    ((ka, da), (kb, db)), t_describe = _best(lambda: (describe(a, ka), describe(b, kb)), repeat)

    def match():
        matches = match_descriptors(da, db, metric="hamming", max_ratio=0.8, cross_check=False)
        hamming = (da[matches[:, 0]] != db[matches[:, 1]]).sum(axis=1)
        return matches[np.argsort(hamming, kind="stable")]

    matches, t_match = _best(match, repeat)
    return ka[:, 1], ka[:, 0], kb[:, 1], kb[:, 0], matches, (t_detect, t_describe, t_match)


METHODS = {
    "reference": (reference_method, None),
    "opencv-dog-sift": (opencv_dog_sift, "cv2"),
    "opencv-sift-on-harris": (opencv_sift_on_harris, "cv2"),
    "skimage-harris-brief": (skimage_harris_brief, "skimage"),
}


def _available(module: str | None) -> bool:
    if module is None:
        return True
    if module == "cv2":
        return cv2 is not None
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _pairs():
    for name in ("notre_dame", "mount_rushmore"):
        try:
            yield name, load_course_pair(name)
        except CourseDataMissing:
            yield name, None
    for photo, seed in (("astronaut", 0), ("coffee", 3)):
        pair = synthetic_pair(photo, seed)
        yield pair.name, pair


def _row(pair: FeaturePair, method, repeat):
    x1, y1, x2, y2, matches, (t_detect, t_describe, t_match) = method(pair.image_a, pair.image_b, repeat)
    top = matches[:100]
    result = evaluate_correspondence(x1[top[:, 0]], y1[top[:, 0]], x2[top[:, 1]], y2[top[:, 1]],
                                     pair.ground_truth, pair.scale_factor)
    described = len(x1) + len(x2)
    return (f"{result.accuracy:.2f} | {result.num_correct} | {len(x1)}/{len(x2)} | {len(matches)} | "
            f"{t_detect:.3f} | {t_describe:.3f} | {t_match:.3f} | {described / t_describe:,.0f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the best time is reported")
    args = parser.parse_args(argv)
    print("| pair | method | top-100 accuracy | correct | keypoints A/B | matches | detect s | describe s "
          "| match s | descriptors/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, pair in _pairs():
        if pair is None:
            print(f"| {name} | (course data not found; set GRADER_DATA) | | | | | | | | |")
            continue
        for method_name, (method, module) in METHODS.items():
            if not _available(module):
                print(f"| {name} | {method_name} ({module} not installed) | | | | | | | | |")
                continue
            print(f"| {name} | {method_name} | {_row(pair, method, args.repeat)} |", flush=True)
    print()
    print("Times are single-threaded wall seconds for both images (best of "
          f"{args.repeat}); descriptors/s = keypoints of A and B / describe time.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
