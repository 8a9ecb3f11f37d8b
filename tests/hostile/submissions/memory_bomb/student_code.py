"""Hostile: allocates 64 MiB at a time, touching every page, up to 6 GiB at most (so that a
broken memory limit cannot take the machine down). The rubric allows 512 MiB."""

import numpy as np

_kept = []


def my_imfilter(image, filter):
    for _ in range(96):  # 96 x 64 MiB = 6 GiB, the hard bound
        _kept.append(np.ones(64 << 17, dtype=np.float64))  # 8 M doubles = 64 MiB, pages touched
    return np.zeros_like(image)  # only reached when the limit is broken: still wrong


def create_hybrid_image(image1, image2, filter):
    low = my_imfilter(image1, filter)
    return low, low, low
