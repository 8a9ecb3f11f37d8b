"""The course's correspondence evaluation and image loading for Project 2.

:func:`evaluate_correspondence` reproduces ``utils.evaluate_correspondence``
of the F18/F19 kits exactly (COURSE_APIS.md, "Evaluation procedure"):

1. only the first ``num_req_matches`` (100) matches, in the order given, are
   evaluated (the notebook passes ``matches[:100]``);
2. estimated coordinates are divided by ``scale_factor`` (0.5), so they are
   compared in full-resolution pixels;
3. each estimate is compared with the ground-truth point nearest to its
   (x1, y1); it is correct iff that point is **< 150 px** away **and** the
   displacements ``(x1 - x2, y1 - y2)`` of estimate and ground truth differ
   by **< 25 px** (Euclidean);
4. there is no one-to-one constraint: one ground-truth point may validate
   several estimates (the course code never marks a point as used);
5. ``accuracy = correct / n * min(n, 100) / 100``, and 0 when ``n = 0``.

:func:`load_course_image` loads an image as the F18 notebook does:
``cv2.imread`` / 255 in RGB order, ``cv2.resize(fx=fy=0.5)`` with bilinear
interpolation, then ``cv2.cvtColor(COLOR_RGB2GRAY)``; it is written with
Pillow and NumPy so OpenCV is not required (the tests check parity).
It lives in the harness, not in reference/: it is the grading procedure (students get
it in the course kit), so student kits ship it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike

import numpy as np

__all__ = [
    "EvaluationResult",
    "evaluate_correspondence",
    "evaluate_matches",
    "load_image",
    "rescale",
    "rgb2gray",
    "load_course_image",
]

MAX_GT_DISTANCE = 150.0  # full-resolution pixels
MAX_OFFSET_ERROR = 25.0  # full-resolution pixels
_GT_KEYS = ("x1", "y1", "x2", "y2")


@dataclass(frozen=True)
class EvaluationResult:
    """Outcome of :func:`evaluate_correspondence`.

    Attributes
    ----------
    accuracy : float
        ``correct / n * min(n, num_req_matches) / num_req_matches`` in [0, 1].
    correct : (n,) bool ndarray
        Whether each evaluated match (in the order given) is correct.
    nearest_gt : (n,) int64 ndarray
        Index of the ground-truth point nearest to each estimate in image A.
    """

    accuracy: float
    correct: np.ndarray
    nearest_gt: np.ndarray

    @property
    def num_evaluated(self) -> int:
        """Number ``n`` of matches evaluated (at most ``num_req_matches``)."""
        return int(self.correct.size)

    @property
    def num_correct(self) -> int:
        """Number of correct matches among those evaluated."""
        return int(self.correct.sum())


def _vector(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).squeeze()
    if array.ndim == 0 and np.asarray(values).size == 1:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {np.shape(values)}.")
    return array


def evaluate_correspondence(
    x1_est: np.ndarray,
    y1_est: np.ndarray,
    x2_est: np.ndarray,
    y2_est: np.ndarray,
    ground_truth: Mapping[str, np.ndarray],
    scale_factor: float = 0.5,
    num_req_matches: int = 100,
) -> EvaluationResult:
    """Score estimated correspondences exactly as the course does.

    Parameters
    ----------
    x1_est, y1_est : (K,) ndarray
        Column and row in image A of each estimated match, at the working
        scale (full resolution times ``scale_factor``), in the order the
        student returned them (most confident first if they sorted).
    x2_est, y2_est : (K,) ndarray
        Column and row of the same matches in image B.
    ground_truth : mapping
        Keys ``x1, y1, x2, y2``: (G,) arrays (or (G, 1), squeezed like the
        course's pickles) in full-resolution pixels, e.g. a ``*_gt.npz``.
    scale_factor : float, optional
        Working scale of the estimates; the course uses 0.5.
    num_req_matches : int, optional
        Matches evaluated and required for full credit; the course uses 100.

    Returns
    -------
    result : EvaluationResult
        Accuracy, per-match correctness and nearest ground-truth indices for
        the first ``n = min(K, num_req_matches)`` matches.

    Raises
    ------
    ValueError
        If the arrays are not 1-D with matching lengths, the ground truth is
        empty or lacks a key, or ``scale_factor``/``num_req_matches`` are not
        positive.

    Examples
    --------
    >>> gt = {"x1": [100.0], "y1": [100.0], "x2": [130.0], "y2": [100.0]}
    >>> r = evaluate_correspondence([50, 51], [50, 50], [65, 90], [50, 50], gt)
    >>> r.correct.tolist(), r.accuracy
    ([True, False], 0.01)
    """
    if not scale_factor > 0:
        raise ValueError(f"scale_factor must be positive, got {scale_factor!r}.")
    if int(num_req_matches) != num_req_matches or num_req_matches < 1:
        raise ValueError(f"num_req_matches must be a positive integer, got {num_req_matches!r}.")
    missing = [key for key in _GT_KEYS if key not in ground_truth]
    if missing:
        raise ValueError(f"ground_truth lacks the keys {missing}; it needs x1, y1, x2, y2.")
    gx1, gy1, gx2, gy2 = (_vector(ground_truth[key], f"ground_truth[{key!r}]") for key in _GT_KEYS)
    if not (gx1.size == gy1.size == gx2.size == gy2.size) or gx1.size == 0:
        raise ValueError("ground_truth x1, y1, x2, y2 must be non-empty and of equal length.")
    est = [_vector(v, n) for v, n in zip((x1_est, y1_est, x2_est, y2_est), ("x1_est", "y1_est", "x2_est", "y2_est"))]
    if len({e.size for e in est}) != 1:
        raise ValueError(f"x1_est, y1_est, x2_est, y2_est must have equal lengths, got {[e.size for e in est]}.")
    n = min(est[0].size, int(num_req_matches))
    if n == 0:
        return EvaluationResult(0.0, np.zeros(0, bool), np.zeros(0, np.int64))
    ex1, ey1, ex2, ey2 = (e[:n] / scale_factor for e in est)

    dist = np.hypot(ex1[:, None] - gx1[None, :], ey1[:, None] - gy1[None, :])  # (n, G)
    nearest = np.argmin(dist, axis=1)
    gt_distance = dist[np.arange(n), nearest]
    offset_error = np.hypot(
        (ex1 - ex2) - (gx1 - gx2)[nearest],
        (ey1 - ey2) - (gy1 - gy2)[nearest],
    )
    correct = (gt_distance < MAX_GT_DISTANCE) & (offset_error < MAX_OFFSET_ERROR)
    accuracy = correct.mean() * min(n, num_req_matches) / num_req_matches
    return EvaluationResult(float(accuracy), correct, nearest.astype(np.int64))


def evaluate_matches(
    matches: np.ndarray,
    x1: np.ndarray,
    y1: np.ndarray,
    x2: np.ndarray,
    y2: np.ndarray,
    ground_truth: Mapping[str, np.ndarray],
    scale_factor: float = 0.5,
    num_req_matches: int = 100,
) -> EvaluationResult:
    """Evaluate ``matches`` (K, 2) of keypoints ``(x1, y1)`` and ``(x2, y2)``.

    Indexes the keypoints with the rows of ``matches`` in the order given (as
    the notebook does with ``matches[:100]``) and calls
    :func:`evaluate_correspondence`; see it for the other parameters.

    Parameters
    ----------
    matches : (K, 2) int ndarray
        Column 0 indexes the points of image A, column 1 those of image B.
    x1, y1 : (N,) ndarray
        Keypoints of image A at the working scale (x = column, y = row).
    x2, y2 : (M,) ndarray
        Keypoints of image B at the working scale.
    """
    matches = np.asarray(matches)
    if matches.size == 0:
        matches = matches.reshape(0, 2)
    if matches.ndim != 2 or matches.shape[1] != 2:
        raise ValueError(f"matches must be a (K, 2) array, got shape {matches.shape}.")
    i, j = matches[:, 0].astype(np.intp), matches[:, 1].astype(np.intp)
    return evaluate_correspondence(
        np.asarray(x1)[i], np.asarray(y1)[i], np.asarray(x2)[j], np.asarray(y2)[j],
        ground_truth, scale_factor, num_req_matches,
    )


def load_image(path: str | PathLike) -> np.ndarray:
    """(H, W, 3) float32 RGB image in [0, 1], like the kit's ``load_image``.

    Equivalent to ``cv2.imread(path)[:, :, ::-1] / 255`` (EXIF orientation is
    applied, as ``cv2.imread`` does); decoded with Pillow.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as handle:
        rgb = ImageOps.exif_transpose(handle).convert("RGB")
        return np.asarray(rgb, dtype=np.float32) / np.float32(255)


def _linear_axis(size: int, scale_factor: float) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV INTER_LINEAR source indices and weights along one axis."""
    out = int(round(size * scale_factor))
    if out < 1:
        raise ValueError(f"scale_factor {scale_factor} shrinks a {size}-pixel axis to nothing.")
    source = (np.arange(out) + 0.5) / scale_factor - 0.5
    low = np.floor(source)
    frac = (source - low).astype(np.float32)
    frac[low < 0] = 0
    frac[low >= size - 1] = 0
    low = np.clip(low, 0, size - 1).astype(np.intp)
    return out, low, np.minimum(low + 1, size - 1), frac


def rescale(image: np.ndarray, scale_factor: float = 0.5) -> np.ndarray:
    """Resize like ``cv2.resize(image, (0, 0), fx=s, fy=s)`` (INTER_LINEAR).

    Output side ``round(side * s)``; source coordinate of output pixel ``d`` is
    ``(d + 0.5) / s - 0.5`` with edge clamping. For ``s = 0.5`` this is the
    mean of each 2 x 2 block.

    Parameters
    ----------
    image : (H, W) or (H, W, C) float ndarray
    scale_factor : float, optional

    Returns
    -------
    resized : (round(H s), round(W s)[, C]) float32 ndarray
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got {image.ndim} dimensions.")
    if not scale_factor > 0:
        raise ValueError(f"scale_factor must be positive, got {scale_factor!r}.")
    _, r0, r1, fr = _linear_axis(image.shape[0], scale_factor)
    _, c0, c1, fc = _linear_axis(image.shape[1], scale_factor)
    shape = (-1, 1) + (1,) * (image.ndim - 2)
    rows = image[r0] * (1 - fr).reshape(shape) + image[r1] * fr.reshape(shape)
    shape = (1, -1) + (1,) * (image.ndim - 2)
    return rows[:, c0] * (1 - fc).reshape(shape) + rows[:, c1] * fc.reshape(shape)


def rgb2gray(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 luma ``0.299 R + 0.587 G + 0.114 B`` (``COLOR_RGB2GRAY``).

    Parameters
    ----------
    image : (H, W, 3) float ndarray in RGB order
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be an (H, W, 3) RGB array, got shape {image.shape}.")
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    return image @ weights


def load_course_image(path: str | PathLike, scale_factor: float = 0.5) -> np.ndarray:
    """Working-scale greyscale image as the F18 notebook builds it.

    ``rgb2gray(rescale(load_image(path), scale_factor))``.

    Returns
    -------
    image : (round(H s), round(W s)) float32 ndarray in [0, 1]
    """
    return rgb2gray(rescale(load_image(path), scale_factor))
