"""Image filtering and hybrid images (course project 1, Fall 2018 API).

Conventions
-----------
Images are ``float32`` arrays in [0, 1] of shape ``(H, W)`` or ``(H, W, C)``.
Filtering is **cross-correlation**, as ``cv2.filter2D`` computes it::

    out[i, j] = sum_{u, v} kernel[u, v] * image[i + u - k // 2, j + v - l // 2]

for a ``(k, l)`` kernel with both sides odd; the kernel is *not* flipped (a
convolution would flip it). Pixels outside the image are filled by reflection
about the edge pixel *excluding* it, ``d c b | a b c d | c b a`` — numpy's
``np.pad(mode="reflect")``, which is ``scipy.ndimage``'s ``mode="mirror"`` and
OpenCV's ``BORDER_REFLECT_101`` (the default of ``cv2.filter2D``).

References
----------
A. Oliva, A. Torralba, P. G. Schyns, "Hybrid images", ACM SIGGRAPH 2006.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.fft

# The three ways to correlate, chosen by cost (``benchmarks/filtering.py`` measures them):
# the direct sum costs one pass per non-zero tap, a separable kernel (an outer product, like
# a Gaussian) two 1-D passes of k + l taps (each tap SEPARABLE_TAP_COST: the passes go through
# an intermediate image), the FFT about as much as FFT_COST_TAPS taps whatever the kernel's
# size. Passes run over bands of BAND_ROWS rows, which stay in cache.
FFT_COST_TAPS = 60
SEPARABLE_TAP_COST = 1.5
BAND_ROWS = 64

def my_imfilter(image: np.ndarray, filter: np.ndarray) -> np.ndarray:  # noqa: A002 (course name)
    """Cross-correlate an image with a 2-D kernel, keeping the image's size.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Float image; ``float32`` in [0, 1] by course convention.
    filter : (k, l) ndarray
        Kernel with odd ``k`` and ``l`` (non-square allowed, e.g. 25x1).

    Returns
    -------
    filtered_image : ndarray
        Same shape as ``image``, ``float32`` for a ``float32`` input (otherwise
        ``float64``); each channel filtered independently.

    Raises
    ------
    ValueError
        If the kernel is not 2-D, has an even side, or the image is not 2-D/3-D.

    Notes
    -----
    The cheapest of three paths (see ``FFT_COST_TAPS``): a direct sum of shifted
    copies, one per non-zero tap; two 1-D passes for a separable kernel; or the
    FFT of the padded image. They agree to the working precision's rounding
    (``float32`` for a ``float32`` image, else ``float64``), and an identity
    kernel returns the input exactly.

    Examples
    --------
    Correlating an impulse gives the kernel flipped about its centre (a
    convolution would give it unflipped):

    >>> impulse = np.zeros((5, 5))
    >>> impulse[2, 2] = 1.0
    >>> my_imfilter(impulse, np.arange(9.0).reshape(3, 3))[1:4, 1:4]
    array([[8., 7., 6.],
           [5., 4., 3.],
           [2., 1., 0.]])

    A box filter of a constant image keeps it constant, borders included
    (reflection, not zero padding):

    >>> out = my_imfilter(np.full((4, 6, 3), 0.5, dtype=np.float32), np.ones((3, 3)) / 9)
    >>> out.dtype, out.shape, bool(np.allclose(out, 0.5))
    (dtype('float32'), (4, 6, 3), True)
    """
    image = np.asarray(image)
    kernel = np.asarray(filter, dtype=np.float64)
    _validate(image, kernel)
    work = np.float32 if image.dtype == np.float32 else np.float64
    planes = image[:, :, None] if image.ndim == 2 else image
    padded = _pad_reflect(planes.astype(work, copy=False), kernel.shape)
    rows, cols = planes.shape[:2]
    factors = _separable(kernel)
    direct_cost = np.count_nonzero(kernel)
    separable_cost: float = SEPARABLE_TAP_COST * sum(np.count_nonzero(f) for f in factors) \
        if factors else np.inf
    if direct_cost > FFT_COST_TAPS and separable_cost > FFT_COST_TAPS:
        out = _correlate_fft(padded, kernel, (rows, cols))
    elif factors is not None and separable_cost < direct_cost:
        column, row = factors
        out = _correlate_direct(_correlate_direct(padded, column[:, None], rows), row[None, :], rows)
    else:
        out = _correlate_direct(padded, kernel, rows)
    return out.reshape(image.shape).astype(work, copy=False)


def create_hybrid_image(
    image1: np.ndarray, image2: np.ndarray, filter: np.ndarray  # noqa: A002
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine the low frequencies of ``image1`` with the high frequencies of ``image2``.

    Parameters
    ----------
    image1, image2 : (H, W, C) ndarray
        Float images in [0, 1] of identical shape.
    filter : (k, l) ndarray
        Low-pass kernel (odd sides), usually :func:`create_gaussian_kernel`.

    Returns
    -------
    low_frequencies : (H, W, C) ndarray
        ``image1`` filtered with ``filter``.
    high_frequencies : (H, W, C) ndarray
        ``image2`` minus ``image2`` filtered; zero-mean, **not** clipped.
    hybrid_image : (H, W, C) ndarray
        ``low + high`` clipped to [0, 1] (the only clipped output).

    Raises
    ------
    ValueError
        If the two images differ in shape.
    """
    image1, image2 = np.asarray(image1), np.asarray(image2)
    if image1.shape != image2.shape:
        raise ValueError(
            f"image1 and image2 must have the same shape, got {image1.shape} and {image2.shape}"
        )
    low = my_imfilter(image1, filter)
    high = image2 - my_imfilter(image2, filter)
    hybrid = np.clip(low + high, 0.0, 1.0)
    return low, high, hybrid


def create_gaussian_kernel(cutoff_frequency: float) -> np.ndarray:
    """A normalised 2-D Gaussian low-pass kernel, as the course builds it.

    Parameters
    ----------
    cutoff_frequency : float
        Standard deviation σ in pixels; the kernel side is ``k = 4·σ + 1``
        (rounded down to an integer, so odd for integer σ).

    Returns
    -------
    kernel : (k, k) ndarray of float64
        Outer product of two centred 1-D Gaussians; sums to 1.

    Examples
    --------
    >>> kernel = create_gaussian_kernel(2)
    >>> kernel.shape, round(float(kernel.sum()), 12), bool(kernel[4, 4] == kernel.max())
    ((9, 9), 1.0, True)
    """
    if cutoff_frequency <= 0:
        raise ValueError(f"cutoff_frequency must be positive, got {cutoff_frequency}")
    size = int(4 * cutoff_frequency + 1)
    if size % 2 == 0:
        size += 1
    offsets = np.arange(size) - size // 2
    g = np.exp(-(offsets**2) / (2.0 * cutoff_frequency**2))
    g /= g.sum()
    return np.outer(g, g)


def _validate(image: np.ndarray, kernel: np.ndarray) -> None:
    if kernel.ndim != 2:
        raise ValueError(f"filter must be a 2-D array, got {kernel.ndim} dimensions")
    if kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError(
            f"filter sides must be odd so that it has a centre, got shape {kernel.shape}"
        )
    if image.ndim not in (2, 3):
        raise ValueError(f"image must have shape (H, W) or (H, W, C), got {image.shape}")


def _pad_reflect(planes: np.ndarray, kernel_shape: tuple[int, int]) -> np.ndarray:
    """Pad ``(H, W, C)`` by half a kernel on each side, by reflection (no edge repeat).

    Where half the kernel exceeds the image side, reflection is repeated, so
    any kernel size works; a side of one pixel is extended by repeating it
    (its only mirror image).
    """
    for axis, half in enumerate((kernel_shape[0] // 2, kernel_shape[1] // 2)):
        widths = [(0, 0)] * planes.ndim
        widths[axis] = (half, half)
        mode: Literal["reflect", "edge"] = "reflect" if planes.shape[axis] > 1 else "edge"
        planes = np.pad(planes, widths, mode=mode)
    return planes


def _separable(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(column, row)`` with ``kernel == outer(column, row)`` when it is rank one (to 1e-10),
    else ``None``; a single row or column is its own factor."""
    if 1 in kernel.shape:
        return (kernel[:, 0], np.ones(1)) if kernel.shape[1] == 1 else (np.ones(1), kernel[0])
    u, s, vt = np.linalg.svd(kernel)
    if s[0] == 0 or s[1] > 1e-10 * s[0]:
        return None
    scale = np.sqrt(s[0])
    return u[:, 0] * scale, vt[0] * scale


def _correlate_direct(padded: np.ndarray, kernel: np.ndarray, rows: int) -> np.ndarray:
    """Sum of kernel-weighted shifted copies: ``(rows+k-1, W+l-1, C)`` → ``(rows, W, C)``.

    Each band of ``BAND_ROWS`` output rows gets every tap before the next band starts, so the
    band and its shifted inputs stay in cache; zero taps cost nothing.
    """
    k, l = kernel.shape
    cols = padded.shape[1] - l + 1
    out = np.zeros((rows, cols) + padded.shape[2:], dtype=padded.dtype)
    taps = [(u, v, padded.dtype.type(kernel[u, v])) for u in range(k) for v in range(l)
            if kernel[u, v] != 0]
    scratch = np.empty((min(rows, BAND_ROWS),) + out.shape[1:], dtype=padded.dtype)
    for top in range(0, rows, BAND_ROWS):
        band = out[top:top + BAND_ROWS]
        term = scratch[:len(band)]
        for u, v, weight in taps:
            np.multiply(padded[top + u:top + u + len(band), v:v + cols], weight, out=term)
            band += term
    return out


def _correlate_fft(padded: np.ndarray, kernel: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """Correlation as a product of spectra over the two image axes of ``(H', W', C)``, at a
    fast transform size; keeps the 'valid' ``(rows, cols, C)`` part of the padded image."""
    size = tuple(scipy.fft.next_fast_len(n, real=True) for n in padded.shape[:2])
    flipped = kernel[::-1, ::-1].astype(padded.dtype)  # correlation = convolution, kernel flipped
    spectrum = scipy.fft.rfft2(padded, s=size, axes=(0, 1))
    spectrum *= scipy.fft.rfft2(flipped, s=size)[:, :, None]
    full = scipy.fft.irfft2(spectrum, s=size, axes=(0, 1), overwrite_x=True)
    k, l = kernel.shape
    return full[k - 1:k - 1 + out_shape[0], l - 1:l - 1 + out_shape[1]].astype(padded.dtype, copy=False)
