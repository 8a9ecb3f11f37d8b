"""A correct submission: zero padding and a double loop over kernel offsets (F18 style)."""

import numpy as np


def my_imfilter(image, filter):
    assert filter.shape[0] % 2 == 1 and filter.shape[1] % 2 == 1
    k, l = filter.shape
    pr, pc = k // 2, l // 2
    padded = np.pad(image, ((pr, pr), (pc, pc), (0, 0)), mode="constant")
    filtered_image = np.zeros_like(image)
    for u in range(k):
        for v in range(l):
            filtered_image += filter[u, v] * padded[u:u + image.shape[0], v:v + image.shape[1], :]
    return filtered_image


def create_hybrid_image(image1, image2, filter):
    assert image1.shape == image2.shape
    low_frequencies = my_imfilter(image1, filter)
    high_frequencies = image2 - my_imfilter(image2, filter)
    hybrid_image = np.clip(low_frequencies + high_frequencies, 0, 1)
    return low_frequencies, high_frequencies, hybrid_image
