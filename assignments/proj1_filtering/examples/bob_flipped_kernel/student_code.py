"""A classic bug: the kernel is flipped (convolution instead of correlation).

Written against 2018 numpy: ``np.float`` was removed in numpy 2.
"""

import numpy as np


def my_imfilter(image, filter):
    k, l = filter.shape
    kernel = np.flipud(np.fliplr(filter)).astype(np.float)
    pr, pc = k // 2, l // 2
    padded = np.pad(image, ((pr, pr), (pc, pc), (0, 0)), mode="reflect")
    m, n, c = image.shape
    filtered_image = np.zeros((m, n, c))
    for i in range(m):
        for j in range(n):
            window = padded[i:i + k, j:j + l, :]
            filtered_image[i, j, :] = np.sum(window * kernel[:, :, None], axis=(0, 1))
    print("filtered an image of shape", image.shape)
    return filtered_image


def create_hybrid_image(image1, image2, filter):
    low_frequencies = my_imfilter(image1, filter)
    high_frequencies = image2 - my_imfilter(image2, filter)
    hybrid_image = np.clip(low_frequencies + high_frequencies, 0, 1)
    return low_frequencies, high_frequencies, hybrid_image
