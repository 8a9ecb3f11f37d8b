"""Image pairs with ground-truth correspondences for Project 2 (feature matching).

Two sources, one shape of result (:class:`FeaturePair`):

- :func:`load_course_pair` reads a course pair (Notre Dame, Mount Rushmore,
  Sydney Opera House) from the course data folder (never from the repository)
  and prepares the images exactly as the F18 notebook does.
- :func:`synthetic_pair` builds an HPatches-style pair from a photograph
  bundled with scikit-image: image B is image A warped by a known homography
  (rotation, scale, mild perspective, translation), blurred, with a brightness
  change and a little noise. Needs no course data.

In both, ``image_a`` and ``image_b`` are the *working-scale* greyscale images
the student code sees, and the ground truth is in *full-resolution* pixels,
i.e. working-scale coordinates divided by ``scale_factor`` (0.5), so
:func:`grader.datasets.course_evaluation.evaluate_correspondence` applies unchanged.
For a synthetic pair the full resolution is notional: twice the photo size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from grader.datapath import course_file
from grader.datasets.course_evaluation import load_course_image, rgb2gray

__all__ = [
    "COURSE_PAIRS",
    "SYNTHETIC_PHOTOS",
    "FeaturePair",
    "load_course_pair",
    "synthetic_pair",
]

COURSE_PAIRS = ("notre_dame", "mount_rushmore", "sydney_opera_house")
SYNTHETIC_PHOTOS = ("astronaut", "chelsea", "coffee", "camera")
SCALE_FACTOR = 0.5


@dataclass(frozen=True)
class FeaturePair:
    """Two images and their ground-truth correspondences.

    Attributes
    ----------
    name : str
        ``"notre_dame"`` etc., or ``"synthetic-<photo>-<seed>"``.
    image_a : (H, W) float32 ndarray in [0, 1]
        First image at the working scale.
    image_b : (H2, W2) float32 ndarray in [0, 1]
        Second image at the working scale.
    ground_truth : dict of str to (G,) float64 ndarray
        Keys ``x1, y1`` (image A) and ``x2, y2`` (image B), x = column,
        y = row, in full-resolution pixels (working / ``scale_factor``).
    scale_factor : float
        Working scale relative to full resolution (0.5, as in the course).
    homography : (3, 3) float64 ndarray or None
        Synthetic pairs only: maps homogeneous working-scale (x, y, 1) of
        image A to image B.
    """

    name: str
    image_a: np.ndarray
    image_b: np.ndarray
    ground_truth: dict
    scale_factor: float = SCALE_FACTOR
    homography: np.ndarray | None = None


def load_course_pair(name: str) -> FeaturePair:
    """Load a course pair at the notebook's working scale.

    Parameters
    ----------
    name : {'notre_dame', 'mount_rushmore', 'sydney_opera_house'}

    Returns
    -------
    pair : FeaturePair
        Images as ``cv2.cvtColor(cv2.resize(rgb, fx=fy=0.5), RGB2GRAY)`` of the
        float RGB image (see :func:`grader.datasets.course_evaluation.load_course_image`);
        ground truth from ``proj2/<name>/<name>_gt.npz`` in full resolution.

    Raises
    ------
    ValueError
        If ``name`` is not a course pair.
    grader.datapath.CourseDataMissing
        If the course data folder or one of the pair's files is absent.
    """
    if name not in COURSE_PAIRS:
        raise ValueError(f"unknown course pair {name!r}; choose one of {', '.join(COURSE_PAIRS)}.")
    with np.load(course_file(f"proj2/{name}/{name}_gt.npz"), allow_pickle=False) as data:
        ground_truth = {key: np.asarray(data[key], np.float64).reshape(-1) for key in ("x1", "y1", "x2", "y2")}
        files = str(data["image_a"]), str(data["image_b"])
    image_a, image_b = (load_course_image(course_file(f"proj2/{name}/{f}"), SCALE_FACTOR) for f in files)
    return FeaturePair(name, image_a, image_b, ground_truth)


def _photo(name: str) -> np.ndarray:
    """Bundled scikit-image photo as (H, W) float32 grey in [0, 1]."""
    if name not in SYNTHETIC_PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose one of {', '.join(SYNTHETIC_PHOTOS)}.")
    from skimage import data

    image = getattr(data, name)().astype(np.float32) / np.float32(255)
    return rgb2gray(image) if image.ndim == 3 else image


def _random_homography(rng: np.random.Generator, shape: tuple[int, int], max_rotation_deg: float,
                       scale_range: tuple[float, float], max_perspective: float,
                       max_shift: float) -> np.ndarray:
    """``T(c + t) @ R(θ) S(s) @ P @ T(-c)`` about the image centre ``c`` (working pixels)."""
    height, width = shape
    theta = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg))
    scale = rng.uniform(*scale_range)
    px, py = rng.uniform(-max_perspective, max_perspective, size=2)
    tx, ty = rng.uniform(-max_shift, max_shift, size=2) * np.array([width, height])
    centre = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [0, 0, 1]])
    similarity = np.array([
        [scale * np.cos(theta), -scale * np.sin(theta), width / 2 + tx],
        [scale * np.sin(theta), scale * np.cos(theta), height / 2 + ty],
        [0, 0, 1],
    ])
    perspective = np.array([[1, 0, 0], [0, 1, 0], [px, py, 1]])
    return similarity @ perspective @ centre


def _apply(homography: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = homography @ np.stack([x, y, np.ones_like(x)])
    return points[0] / points[2], points[1] / points[2]


def _warp(image: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """Image B with ``B(q) = A(H⁻¹ q)``; bilinear, black outside A."""
    rows, cols = np.indices(image.shape, dtype=np.float64)
    x, y = _apply(np.linalg.inv(homography), cols.ravel(), rows.ravel())
    warped = ndimage.map_coordinates(image, [y, x], order=1, mode="constant", cval=0.0)
    return warped.reshape(image.shape).astype(np.float32)


def synthetic_pair(
    name: str = "astronaut",
    seed: int = 0,
    *,
    num_points: int = 150,
    max_rotation_deg: float = 15.0,
    scale_range: tuple[float, float] = (0.85, 1.15),
    max_perspective: float = 2e-4,
    max_shift: float = 0.05,
    blur_sigma: tuple[float, float] = (0.4, 1.0),
    gain: tuple[float, float] = (0.8, 1.2),
    offset: tuple[float, float] = (-0.1, 0.1),
    noise: float = 0.005,
    margin: int = 16,
) -> FeaturePair:
    """A deterministic HPatches-style pair built from a bundled photo.

    Image A is the photo in grey; image B is A warped by a random homography
    ``H`` (rotation up to ``max_rotation_deg``, isotropic scale in
    ``scale_range``, perspective terms up to ``max_perspective`` per pixel,
    shift up to ``max_shift`` of the size, all about the centre), then blurred
    by a Gaussian, mapped by ``gain * b + offset``, given Gaussian noise of
    standard deviation ``noise`` and clipped to [0, 1]. The defaults stay within
    what an upright single-scale descriptor tolerates.

    Ground truth: a jittered grid of points of A at least ``margin`` working
    pixels from A's border whose images under ``H`` are at least ``margin``
    from B's border; ``num_points`` of them (fewer only if the overlap is
    small), in full-resolution pixels (working / 0.5) like the course files.

    Parameters
    ----------
    name : {'astronaut', 'chelsea', 'coffee', 'camera'}
        ``skimage.data`` photo (bundled with scikit-image, no download).
    seed : int
        Seed of every random choice; equal seeds give identical pairs.

    Returns
    -------
    pair : FeaturePair
        With ``homography`` set (working-scale coordinates, A to B).

    Raises
    ------
    ValueError
        If ``name`` is not one of the bundled photos.
    """
    rng = np.random.default_rng(seed)
    image_a = _photo(name)
    homography = _random_homography(rng, image_a.shape, max_rotation_deg, scale_range,
                                    max_perspective, max_shift)
    warped = _warp(image_a, homography)
    warped = ndimage.gaussian_filter(warped, rng.uniform(*blur_sigma))
    warped = rng.uniform(*gain) * warped + rng.uniform(*offset)
    warped = warped + rng.normal(0.0, noise, warped.shape)
    image_b = np.clip(warped, 0, 1).astype(np.float32)

    x1, y1 = _grid_points(rng, image_a.shape, homography, num_points, margin)
    x2, y2 = _apply(homography, x1, y1)
    ground_truth = {key: value / SCALE_FACTOR for key, value in zip(("x1", "y1", "x2", "y2"), (x1, y1, x2, y2))}
    return FeaturePair(f"synthetic-{name}-{seed}", image_a, image_b, ground_truth, SCALE_FACTOR, homography)


def _grid_points(rng: np.random.Generator, shape: tuple[int, int], homography: np.ndarray,
                 num_points: int, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Jittered-grid points of A that stay ``margin`` inside both images."""
    height, width = shape
    side = int(np.ceil(np.sqrt(4 * num_points)))  # oversample; the overlap drops some
    gy, gx = np.meshgrid(np.linspace(margin, height - 1 - margin, side),
                         np.linspace(margin, width - 1 - margin, side), indexing="ij")
    step = min(height, width) / side
    x = np.clip(gx.ravel() + rng.uniform(-step / 3, step / 3, gx.size), margin, width - 1 - margin)
    y = np.clip(gy.ravel() + rng.uniform(-step / 3, step / 3, gy.size), margin, height - 1 - margin)
    x2, y2 = _apply(homography, x, y)
    inside = (x2 >= margin) & (x2 <= width - 1 - margin) & (y2 >= margin) & (y2 <= height - 1 - margin)
    keep = np.flatnonzero(inside)
    if keep.size > num_points:
        keep = np.sort(rng.choice(keep, num_points, replace=False))
    return x[keep], y[keep]
