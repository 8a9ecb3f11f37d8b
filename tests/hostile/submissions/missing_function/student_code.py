"""Broken: the function names are misspelt (no my_imfilter, no create_hybrid_image)."""

import numpy as np


def my_imfiltr(image, filter):
    return np.asarray(image)


def create_hybrid(image1, image2, filter):
    return image1, image2, image1
