"""Prints 120 MiB on stdout in 1 MiB chunks at every call, then returns the correct answer.
Printing is not a crime: the harness drains the output into a bounded capture, so this
passes and its captured output stays small."""

import sys

import numpy as np

_CHUNK = ("x" * 1023 + "\n") * 1024  # 1 MiB


def _shout():
    for _ in range(120):
        sys.stdout.write(_CHUNK)
    sys.stdout.flush()


def my_imfilter(image, filter):
    _shout()
    return _filter(image, filter)


def _filter(image, filter):
    image = np.asarray(image)
    kernel = np.asarray(filter, dtype=np.float64)
    planes = image[:, :, None] if image.ndim == 2 else image
    rows, cols = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(planes.astype(np.float64), ((rows, rows), (cols, cols), (0, 0)), mode="reflect")
    height, width = planes.shape[:2]
    out = np.zeros(planes.shape, dtype=np.float64)
    for u in range(kernel.shape[0]):
        for v in range(kernel.shape[1]):
            out += kernel[u, v] * padded[u:u + height, v:v + width]
    return out.reshape(image.shape).astype(image.dtype if image.dtype == np.float32 else np.float64)


def create_hybrid_image(image1, image2, filter):
    _shout()
    low = _filter(image1, filter)
    high = image2 - _filter(image2, filter)
    return low, high, np.clip(low + high, 0.0, 1.0)
