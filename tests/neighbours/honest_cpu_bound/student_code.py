"""Honest and correct, but slow: each call computes for 1.5 CPU-seconds (half its 3 s
limit) before it answers, as loop-based student code does. Alone it earns 7/7; beside a
neighbour that starts a dozen busy processes it must earn 7/7 too."""

import time

import numpy as np


def _correlate(image, kernel):
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    planes = image[:, :, None] if image.ndim == 2 else image
    rows, cols = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(planes, ((rows, rows), (cols, cols), (0, 0)), mode="reflect")
    out = np.zeros(planes.shape)
    for u in range(kernel.shape[0]):
        for v in range(kernel.shape[1]):
            out += kernel[u, v] * padded[u:u + planes.shape[0], v:v + planes.shape[1]]
    return out.reshape(image.shape)


def _think(seconds=1.5):
    end = time.process_time() + seconds
    total = 0
    while time.process_time() < end:
        total += sum(range(1000))
    return total


def my_imfilter(image, filter):
    _think()
    return _correlate(image, filter)


def create_hybrid_image(image1, image2, filter):
    _think()
    low = _correlate(image1, filter)
    high = np.asarray(image2, dtype=np.float64) - _correlate(image2, filter)
    return low, high, np.clip(low + high, 0.0, 1.0)
