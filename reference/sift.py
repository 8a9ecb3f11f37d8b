"""SIFT-like local descriptor (reference for Project 2, ``student_sift.py``).

Each keypoint gets a ``feature_width`` x ``feature_width`` window split into
4 x 4 cells; every cell holds an 8-bin histogram of gradient orientations
weighted by gradient magnitude, giving 4 * 4 * 8 = 128 values (Lowe 2004,
sec. 6.1). The window is axis-aligned and single-scale, as in the course
baseline: no orientation or scale normalisation.

Vectorisation: the orientation soft-binning is done once for the whole image
(8 planes of weighted magnitudes, one loop over the bins). Windows are then
gathered with one fancy index into a sliding-window view and pooled into
cells with one matrix product against a fixed (fw², 16) spatial-weight matrix
that holds the Gaussian weighting and the bilinear cell interpolation. There
is no Python loop over keypoints or cells.

Conventions: ``x`` = column, ``y`` = row; the window of the point (x, y)
covers columns ``x - fw/2 .. x + fw/2 - 1`` and rows ``y - fw/2 .. y + fw/2 - 1``
(its centre is at (x - 0.5, y - 0.5)), the same window that
:func:`reference.harris.get_interest_points` keeps inside the image.

References
----------
.. [1] D. G. Lowe, "Distinctive image features from scale-invariant
       keypoints", IJCV 60(2):91-110, 2004, sec. 6.1.
       :DOI:`10.1023/B:VISI.0000029664.99615.94`
.. [2] R. Arandjelović and A. Zisserman, "Three things everyone should know to
       improve object retrieval", CVPR 2012 (RootSIFT: square-root descriptors).
       :DOI:`10.1109/CVPR.2012.6248018`
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

__all__ = ["get_features"]

N_HIST = 4  # cells per side
N_ORI = 8  # orientation bins per cell
_EPS = 1e-12


def _orientation_planes(image: np.ndarray, sigma: float, interpolate: bool, pad: int) -> np.ndarray:
    """(N_ORI, H + 2 pad, W + 2 pad) gradient magnitude shared between orientation bins.

    Gradients are central differences of the image smoothed by a Gaussian of
    ``sigma`` pixels. Bin ``b`` is centred on the angle ``b * 2π / N_ORI``
    (angles from ``arctan2(dy, dx)``, y pointing down). With ``interpolate``
    each magnitude is shared linearly between the two nearest bin centres
    (weight ``max(0, 1 - circular distance in bins)``); otherwise it all goes
    to the nearest bin. The border of width ``pad`` is zero, so windows that
    reach past the image see no gradient there. One loop over the 8 bins.
    """
    smooth = ndimage.gaussian_filter(image, sigma, mode="nearest") if sigma > 0 else image  # audit: free — pre-smoothing
    dy, dx = np.gradient(smooth)
    magnitude = np.hypot(dx, dy)
    position = np.mod(np.arctan2(dy, dx) * np.float32(N_ORI / (2 * np.pi)), N_ORI)  # in [0, N_ORI)
    if not interpolate:
        position = np.rint(position) % N_ORI
    height, width = image.shape
    planes = np.zeros((N_ORI, height + 2 * pad, width + 2 * pad), np.float32)
    for b in range(N_ORI):
        distance = np.abs(position - b)
        distance = np.minimum(distance, N_ORI - distance)
        np.multiply(np.maximum(1 - distance, 0), magnitude, out=planes[b, pad : pad + height, pad : pad + width])
    return planes


def _spatial_weights(feature_width: int, gaussian_weight: bool, interpolate: bool) -> np.ndarray:
    """(fw * fw, N_HIST²) weight of each window pixel in each cell.

    Pixel centres sit at ``u = i + 0.5 - fw/2`` from the window centre. With
    ``interpolate`` a pixel is shared bilinearly between the (up to) four cells
    whose centres surround it (the spatial part of Lowe's trilinear
    interpolation); otherwise it belongs to its own cell only. With
    ``gaussian_weight`` everything is multiplied by a Gaussian of
    sigma = fw/2 centred on the window (Lowe 2004, sec. 6.1).
    """
    cell = feature_width // N_HIST
    centre = feature_width / 2
    u = np.arange(feature_width) + 0.5 - centre  # audit: free(constant, sign) — an even window's centre, ±½ px
    if interpolate:
        coord = (u + feature_width / 2) / cell - 0.5  # cell centres at 0..N_HIST-1
        weight_1d = np.clip(1 - np.abs(coord[:, None] - np.arange(N_HIST)[None, :]), 0, None)
    else:
        weight_1d = (np.arange(feature_width)[:, None] // cell == np.arange(N_HIST)).astype(float)
    if gaussian_weight:
        sigma = feature_width / 2  # audit: free(arith, constant, sign) — the weighting's width
        weight_1d = weight_1d * _gaussian(u, sigma)[:, None]
    # weights[(r, c), (i, j)] = w[r, i] * w[c, j]: separable in rows and columns.
    weights = np.einsum("ri,cj->rcij", weight_1d, weight_1d)
    return weights.reshape(feature_width * feature_width, N_HIST * N_HIST).astype(np.float32)


def _gaussian(offsets: np.ndarray, sigma: float) -> np.ndarray:
    """``exp(-offsets² / (2 sigma²))``: Lowe's window weighting (optional in the course)."""
    return np.exp(-0.5 * (offsets / sigma) ** 2)


def _check_points(image: np.ndarray, x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D arrays of equal length, got {x.shape} and {y.shape}.")
    if x.size and not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite.")
    xi = np.rint(x).astype(np.intp)
    yi = np.rint(y).astype(np.intp)
    height, width = image.shape
    if x.size and (xi.min() < 0 or yi.min() < 0 or xi.max() >= width or yi.max() >= height):
        raise ValueError(f"every point must lie inside the {height}x{width} image (x = column, y = row).")
    return xi, yi


def get_features(
    image: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    feature_width: int,
    scales: np.ndarray | None = None,
    *,
    sigma: float = 0.8,  # audit: free(constant, sign) — pre-smoothing is optional
    gaussian_weight: bool = True,  # audit: free — Gaussian window weighting is optional
    interpolate: bool = True,  # audit: free — trilinear interpolation is optional
    clip: float = 0.2,  # audit: free(constant) — Lowe's 0.2 is a tuning choice
    power: float = 0.5,  # audit: free(constant) — RootSIFT (power 0.5) is optional
) -> np.ndarray:
    """SIFT-like 128-D descriptors at the given points (course F18 API).

    Parameters
    ----------
    image : (H, W) ndarray
        Greyscale image, float32 in [0, 1] in the course.
    x : (K,) ndarray
        Column of each keypoint; rounded to the nearest pixel.
    y : (K,) ndarray
        Row of each keypoint; rounded to the nearest pixel.
    feature_width : int
        Window side ``fw`` in pixels, a positive multiple of 4 (16 in the
        course); each of the 4 x 4 cells is ``fw/4`` pixels wide.
    scales : (K,) ndarray or None, optional
        Accepted for the F18 signature and ignored: the reference describes
        every point at the fixed window ``feature_width``.
    sigma : float, optional
        Gaussian pre-smoothing (pixels) before central-difference gradients.
    gaussian_weight : bool, optional
        Weight magnitudes by a Gaussian of sigma ``fw/2`` centred on the window.
    interpolate : bool, optional
        Trilinear interpolation: share each pixel's magnitude between the two
        nearest orientation bins and the (up to) four nearest cells.
    clip : float, optional
        After L2 normalisation, clip values at ``clip`` and renormalise
        (Lowe's illumination step; 0.2 in the paper). ``None`` disables it.
    power : float, optional
        Raise the clipped descriptor to this power in (0, 1] and renormalise;
        0.5 is RootSIFT's square root, 1 leaves it unchanged.

    Returns
    -------
    features : (K, 128) float32 ndarray
        Unit-L2-norm rows (all zeros for a window without gradient), ordered
        cell by cell (row-major over the 4 x 4 grid) with 8 orientation bins
        per cell. Windows reaching past the image border see zero gradient
        there.

    Raises
    ------
    ValueError
        If ``image`` is not 2-D and finite, ``feature_width`` is not a positive
        multiple of 4, ``x``/``y`` differ in shape or leave the image, or
        ``clip``/``power`` are out of range.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = rng.random((64, 64)).astype(np.float32)
    >>> f = get_features(image, np.array([20, 40]), np.array([30, 30]), 16)
    >>> f.shape, f.dtype
    ((2, 128), dtype('float32'))
    >>> np.allclose(np.linalg.norm(f, axis=1), 1)
    True
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be a 2-D greyscale array, got {image.ndim} dimensions.")
    if not np.all(np.isfinite(image)):
        raise ValueError("image must not contain NaN or infinite values.")
    if int(feature_width) != feature_width or feature_width < 4 or feature_width % 4:
        raise ValueError(f"feature_width must be a positive multiple of 4, got {feature_width!r}.")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be positive or None, got {clip!r}.")
    if not 0 < power <= 1:
        raise ValueError(f"power must lie in (0, 1], got {power!r}.")
    feature_width = int(feature_width)
    xi, yi = _check_points(image, x, y)
    if xi.size == 0:
        return np.zeros((0, N_HIST * N_HIST * N_ORI), np.float32)

    half = feature_width // 2
    planes = _orientation_planes(image.astype(np.float32), sigma, interpolate, pad=half)
    # windows[b, k] is the (fw, fw) block of plane b whose top-left corner is
    # padded (y_k, x_k), i.e. image (y_k - fw/2, x_k - fw/2).
    windows = sliding_window_view(planes, (feature_width, feature_width), axis=(1, 2))[:, yi, xi]
    windows = windows.reshape(N_ORI * len(xi), feature_width * feature_width)  # (8K, P)
    weights = _spatial_weights(feature_width, gaussian_weight, interpolate)  # (P, 16)
    cells = (windows @ weights).reshape(N_ORI, len(xi), N_HIST * N_HIST)  # one GEMM pools every window
    features = cells.transpose(1, 2, 0).reshape(len(xi), N_HIST * N_HIST * N_ORI)
    return _normalise(features, clip, power)


def _normalise(features: np.ndarray, clip: float | None, power: float) -> np.ndarray:
    """L2-normalise, clip at ``clip``, renormalise, apply ``power``, renormalise."""
    features = features / (np.linalg.norm(features, axis=1, keepdims=True) + _EPS)
    if clip is not None:
        features = np.minimum(features, clip)  # audit: free(drop) — clipping or the power law: either will do
        features /= np.linalg.norm(features, axis=1, keepdims=True) + _EPS  # audit: free(drop, arith) — renormalised below
    if power != 1:  # audit: free(compare) — RootSIFT is optional
        features = features**power  # audit: free(drop, arith) — RootSIFT is optional
        features /= np.linalg.norm(features, axis=1, keepdims=True) + _EPS
    return np.ascontiguousarray(features, dtype=np.float32)
