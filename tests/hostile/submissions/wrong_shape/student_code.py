"""Broken: right values, wrong shapes (a 'valid' correlation, one row and column short)."""

import numpy as np


def my_imfilter(image, filter):
    image = np.asarray(image)
    return image[:-1, :-1].copy()


def create_hybrid_image(image1, image2, filter):
    return np.asarray(image1)[:, :, 0], np.asarray(image2).T, np.asarray(image1)[None]
