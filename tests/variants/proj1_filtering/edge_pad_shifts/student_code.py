"""Correct variant: replicate (edge) padding, one output pixel at a time per channel."""

import numpy as np


def my_imfilter(image, filter):
    k, l = filter.shape
    if not (k % 2 and l % 2):
        raise ValueError("even filter")
    colour = image.ndim == 3
    planes = image if colour else image[:, :, np.newaxis]
    out = np.zeros(planes.shape, dtype=np.float32)
    for c in range(planes.shape[2]):
        padded = np.pad(planes[:, :, c], ((k // 2, k // 2), (l // 2, l // 2)), mode="edge")
        for i in range(planes.shape[0]):
            rows = padded[i:i + k]
            for j in range(planes.shape[1]):
                out[i, j, c] = np.sum(rows[:, j:j + l] * filter)
    return out if colour else out[:, :, 0]


def create_hybrid_image(image1, image2, filter):
    low = my_imfilter(image1, filter)
    high = image2 - my_imfilter(image2, filter)
    return low, high, np.clip(low + high, 0.0, 1.0)
