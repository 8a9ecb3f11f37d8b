"""Hostile: returns an array far larger than expected (300 MiB, materialised in the worker
from a zero-stride view), hoping to exhaust the parent."""

import numpy as np


def my_imfilter(image, filter):
    return np.broadcast_to(np.float32(0.5), (10_000, 7_864))  # 300 MiB once copied


def create_hybrid_image(image1, image2, filter):
    big = np.broadcast_to(np.float64(0.5), (5_000, 7_864))
    return big, big, big
