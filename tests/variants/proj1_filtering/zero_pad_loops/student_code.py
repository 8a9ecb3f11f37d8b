"""Correct variant: zero padding and a loop over kernel taps (the course's classic solution)."""

import numpy as np


def my_imfilter(image, filter):
    assert filter.shape[0] % 2 == 1 and filter.shape[1] % 2 == 1, "filter sides must be odd"
    m, n = image.shape[:2]
    k, l = filter.shape
    pad = [(k // 2, k // 2), (l // 2, l // 2)] + [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image, pad, mode="constant")
    filtered_image = np.zeros(image.shape, dtype=np.float64)
    for u in range(k):
        for v in range(l):
            filtered_image += filter[u, v] * padded[u:u + m, v:v + n]
    return filtered_image.astype(image.dtype)


def create_hybrid_image(image1, image2, filter):
    low_frequencies = my_imfilter(image1, filter)
    high_frequencies = image2 - my_imfilter(image2, filter)
    hybrid_image = low_frequencies + high_frequencies
    hybrid_image[hybrid_image < 0] = 0
    hybrid_image[hybrid_image > 1] = 1
    return low_frequencies, high_frequencies, hybrid_image
