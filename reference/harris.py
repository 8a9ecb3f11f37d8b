"""Harris corner detector (reference for Project 2, ``student_harris.py``).

Pipeline: derivative-of-Gaussian gradients, Gaussian-windowed second-moment
matrix, Harris cornerness, max-filter non-maximum suppression, a border that
keeps every feature window inside the image, then the top points by response
or by adaptive non-maximum suppression (ANMS).

Conventions: images are (H, W) float arrays (float32 in [0, 1] in the course);
points are returned as ``x`` = column and ``y`` = row, both integer-valued.

References
----------
.. [1] C. Harris and M. Stephens, "A combined corner and edge detector",
       Proc. 4th Alvey Vision Conference, pp. 147-151, 1988.
       :DOI:`10.5244/C.2.23`
.. [2] M. Brown, R. Szeliski and S. Winder, "Multi-image matching using
       multi-scale oriented patches", CVPR 2005, sec. 3 (ANMS).
       :DOI:`10.1109/CVPR.2005.235`
.. [3] R. Szeliski, *Computer Vision: Algorithms and Applications*, 1st ed.,
       2010, sec. 4.1.1 (the auto-correlation matrix and Harris' measure).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["get_interest_points", "harris_response"]

_ANMS_BLOCK = 1024


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be a 2-D greyscale array, got {image.ndim} dimensions.")
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise ValueError(f"image must hold real numbers, got dtype {image.dtype}.")
    if not np.all(np.isfinite(image)):
        raise ValueError("image must not contain NaN or infinite values.")
    return image.astype(np.float64, copy=False)


def _check_feature_width(feature_width: int) -> int:
    if int(feature_width) != feature_width or feature_width < 4 or feature_width % 4:
        raise ValueError(f"feature_width must be a positive multiple of 4, got {feature_width!r}.")
    return int(feature_width)


def harris_response(
    image: np.ndarray, sigma_d: float = 1.0, sigma_i: float = 2.0, alpha: float = 0.05
) -> np.ndarray:
    """Harris cornerness ``R = det(M) - alpha * trace(M)**2`` at every pixel.

    Parameters
    ----------
    image : (H, W) ndarray
        Greyscale image (float32 in [0, 1] in the course).
    sigma_d : float, optional
        Differentiation scale in pixels: ``Ix`` and ``Iy`` are the image
        convolved with the x and y derivatives of a Gaussian of this sigma
        (derivative-of-Gaussian gradients, not Sobel).
    sigma_i : float, optional
        Integration scale in pixels: standard deviation of the Gaussian window
        ``w`` that sums the gradient products into the second-moment matrix
        ``M = w * [[Ix², IxIy], [IxIy, Iy²]]`` (Szeliski 2010, sec. 4.1.1).
    alpha : float, optional
        Harris & Stephens' empirical constant (0.04-0.06).

    Returns
    -------
    response : (H, W) float64 ndarray
        Positive at corners, negative along edges, near zero on flat regions.
        Scales with the fourth power of image contrast.

    Examples
    --------
    >>> image = np.zeros((32, 32), np.float32)
    >>> image[8:24, 8:24] = 1
    >>> r = harris_response(image)
    >>> bool(r[8, 8] > 0 and r[16, 8] < 0)
    True
    """
    image = _check_image(image)
    ix = ndimage.gaussian_filter(image, sigma_d, order=(0, 1), mode="nearest")
    iy = ndimage.gaussian_filter(image, sigma_d, order=(1, 0), mode="nearest")
    sxx = ndimage.gaussian_filter(ix * ix, sigma_i, mode="nearest")
    syy = ndimage.gaussian_filter(iy * iy, sigma_i, mode="nearest")
    sxy = ndimage.gaussian_filter(ix * iy, sigma_i, mode="nearest")
    return sxx * syy - sxy * sxy - alpha * (sxx + syy) ** 2


def _anms(x: np.ndarray, y: np.ndarray, strength: np.ndarray, robustness: float) -> np.ndarray:
    """Suppression radius of each point (Brown et al. 2005, sec. 3).

    ``radius[i]`` is the distance to the nearest point ``j`` with
    ``strength[i] < robustness * strength[j]`` (``inf`` for the strongest).
    Points are processed in blocks of rows so memory stays O(block * N).
    """
    pts = np.stack([x, y], axis=1).astype(np.float64)
    radius = np.full(len(pts), np.inf)
    for start in range(0, len(pts), _ANMS_BLOCK):
        block = slice(start, start + _ANMS_BLOCK)
        d2 = ((pts[block, None, :] - pts[None, :, :]) ** 2).sum(-1)
        dominated = strength[block, None] < robustness * strength[None, :]
        d2 = np.where(dominated, d2, np.inf)
        radius[block] = np.sqrt(d2.min(axis=1))
    return radius


def get_interest_points(
    image: np.ndarray,
    feature_width: int,
    num_points: int = 5000,  # audit: free(constant) — how many points to return
    *,
    sigma_d: float = 1.0,
    sigma_i: float = 2.0,
    alpha: float = 0.05,  # audit: free(constant) — any alpha near 0.04-0.06 is a Harris detector
    nms_size: int = 3,
    threshold: float = 1e-5,  # audit: free(constant, sign) — the response threshold is a tuning choice
    anms: bool = False,  # audit: free — ANMS is optional (the F18 starter suggests it)
    anms_robustness: float = 0.9,
    anms_candidates: int = 10000,
):
    """Harris corners, strongest first (course F18 API).

    Parameters
    ----------
    image : (H, W) ndarray
        Greyscale image, float32 in [0, 1] in the course.
    feature_width : int
        Side in pixels of the square descriptor window; a positive multiple of 4.
        Points whose window ``[x - fw/2, x + fw/2 - 1]`` (and the same in y)
        would leave the image are discarded, i.e. only
        ``fw/2 <= x <= W - fw/2`` and ``fw/2 <= y <= H - fw/2`` survive.
    num_points : int, optional
        Maximum number ``N`` of points returned. The default 5000 keeps nearly
        every local maximum of a course image at working scale; more
        candidates make the 100 most confident matches more reliable (the
        F18 starter mentions 1500 with ANMS).
    sigma_d, sigma_i, alpha : float, optional
        Gradient scale, window scale and Harris constant; see
        :func:`harris_response`.
    nms_size : int, optional
        Side of the square max filter of the non-maximum suppression: a pixel
        survives only if it equals the maximum of its ``nms_size`` neighbourhood.
    threshold : float, optional
        Responses must exceed ``threshold * max(R)`` (and 0) to be kept.
    anms : bool, optional
        If True, choose the ``N`` points with the largest ANMS suppression
        radius (Brown et al. 2005) instead of the ``N`` strongest, which spreads
        them over the image.
    anms_robustness : float, optional
        ANMS constant ``c_robust``: point ``i`` is suppressed by ``j`` when
        ``R_i < c_robust * R_j``.
    anms_candidates : int, optional
        ANMS considers only this many strongest local maxima (bounds its cost).

    Returns
    -------
    x : (N,) int64 ndarray
        Column of each point.
    y : (N,) int64 ndarray
        Row of each point.
    confidences : (N,) float64 ndarray
        Harris response ``R`` at each point; non-increasing unless ``anms``,
        in which case points are ordered by decreasing suppression radius.
    scales : None
        Single-scale detector; kept for the five-value F18 signature.
    orientations : None
        No orientation is assigned; kept for the F18 signature.

    Raises
    ------
    ValueError
        If ``image`` is not 2-D and finite, ``feature_width`` is not a positive
        multiple of 4, or ``num_points`` is not positive.

    Notes
    -----
    Flat images (or images smaller than one window) give empty arrays.
    Exact ties survive the non-maximum suppression together (a symmetric
    corner lying between pixels can yield a 2 x 2 block of equal maxima), as
    in the course's F19 ``NMSLayer``.
    On an ideal step corner the response peaks about 1.5 px inside the corner
    (the blurred window sees more of the bright region there), as the
    example shows for a square whose corners are at 20 and 43.

    Examples
    --------
    >>> image = np.zeros((64, 64), np.float32)
    >>> image[20:44, 20:44] = 1
    >>> x, y, conf, _, _ = get_interest_points(image, 16, num_points=4)
    >>> sorted(zip(x.tolist(), y.tolist()))
    [(21, 21), (21, 42), (42, 21), (42, 42)]
    """
    feature_width = _check_feature_width(feature_width)
    if int(num_points) != num_points or num_points < 1:
        raise ValueError(f"num_points must be a positive integer, got {num_points!r}.")
    response = harris_response(image, sigma_d, sigma_i, alpha)
    height, width = response.shape
    half = feature_width // 2  # audit: free(constant) — the border's width (F18: *may* drop points near it)

    peaks = response == ndimage.maximum_filter(response, size=nms_size, mode="nearest")
    peaks &= response > max(threshold * response.max(), 0.0)  # audit: free(drop) — thresholding is optional
    # F18: students *may* drop points near the border; how near is theirs to choose
    rows = slice(half, height - half + 1)  # audit: free(arith, constant, sign) — the border's width
    columns = slice(half, width - half + 1)  # audit: free(arith, constant, sign) — the border's width
    inside = np.zeros_like(peaks)
    inside[rows, columns] = True
    y, x = np.nonzero(peaks & inside)
    strength = response[y, x]
    order = np.argsort(-strength, kind="stable")
    x, y, strength = x[order], y[order], strength[order]

    if anms and len(x) > num_points:  # audit: free(compare) — ANMS is optional, and never wrong
        keep = min(len(x), anms_candidates)
        x, y, strength = x[:keep], y[:keep], strength[:keep]
        radius = _anms(x, y, strength, anms_robustness)
        order = np.argsort(-radius, kind="stable")
        x, y, strength = x[order], y[order], strength[order]

    x, y, strength = (v[:num_points] for v in (x, y, strength))  # audit: free(drop, slice) — how many
    return x.astype(np.int64), y.astype(np.int64), strength, None, None
