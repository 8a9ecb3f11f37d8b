"""Hostile: a memory bomb that bypasses the address-space limit by filling RAM-backed
files at import time: 32 MiB files (under the file-size limit) in /dev/shm and /tmp, which
inside bubblewrap are tmpfs, up to 768 MiB at most (bounded so a missing limit cannot take
the machine down). It returns the right answer only when it held more than the rubric's
512 MiB that way, so an effective memory limit gives it zero. Bubblewrap-only: without it
these folders are the host's."""

import os

import numpy as np

_BLOCK = b"\xa5" * (32 << 20)


def _hoard(limit=768 << 20):
    stored, index = 0, 0
    for folder in ("/dev/shm", "/tmp"):
        while stored < limit:
            try:
                with open(os.path.join(folder, f"hoard_{index}"), "wb") as handle:
                    handle.write(_BLOCK)
            except OSError:
                break
            stored += len(_BLOCK)
            index += 1
    return stored


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


_STORED = _hoard()


def my_imfilter(image, filter):
    if _STORED > 512 << 20:
        return _filter(image, filter)
    return np.zeros_like(image)


def create_hybrid_image(image1, image2, filter):
    if _STORED > 512 << 20:
        low = _filter(image1, filter)
        high = image2 - _filter(image2, filter)
        return low, high, np.clip(low + high, 0.0, 1.0)
    zeros = np.zeros_like(image1)
    return zeros, zeros, zeros
