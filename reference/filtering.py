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

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Above this many kernel taps the FFT path beats the direct sum (the crossover on a 361x410x3
# image is near 7x7, measured by hand with both paths of my_imfilter).
FFT_MIN_TAPS = 50


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
    Small kernels are summed directly over strided views; kernels with at
    least ``FFT_MIN_TAPS`` taps are applied through the FFT of the padded
    image. Both give the same result to float32 rounding.
    """
    image = np.asarray(image)
    kernel = np.asarray(filter, dtype=np.float64)
    _validate(image, kernel)
    planes = image[:, :, None] if image.ndim == 2 else image
    padded = _pad_reflect(planes.astype(np.float64, copy=False), kernel.shape)
    if kernel.size >= FFT_MIN_TAPS:
        out = _correlate_fft(padded, kernel, planes.shape[:2])
    else:
        out = _correlate_direct(padded, kernel)
    out = out.reshape(image.shape)
    return out.astype(np.float32 if image.dtype == np.float32 else np.float64, copy=False)


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
        mode = "reflect" if planes.shape[axis] > 1 else "edge"
        planes = np.pad(planes, widths, mode=mode)
    return planes


def _correlate_direct(padded: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Sum of kernel-weighted windows: ``(H+k-1, W+l-1, C)`` → ``(H, W, C)``."""
    windows = sliding_window_view(padded, kernel.shape, axis=(0, 1))  # (H, W, C, k, l)
    return np.einsum("hwckl,kl->hwc", windows, kernel, optimize=True)


def _correlate_fft(padded: np.ndarray, kernel: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """Correlation as a product of spectra; keeps the 'valid' part of the padded image."""
    rows, cols = padded.shape[:2]
    flipped = kernel[::-1, ::-1]  # correlation = convolution with the flipped kernel
    spectrum = np.fft.rfft2(padded, s=(rows, cols), axes=(0, 1))
    kernel_spectrum = np.fft.rfft2(flipped, s=(rows, cols))[:, :, None]
    full = np.fft.irfft2(spectrum * kernel_spectrum, s=(rows, cols), axes=(0, 1))
    k, l = kernel.shape
    return full[k - 1 : k - 1 + out_shape[0], l - 1 : l - 1 + out_shape[1]]
