"""Broken: the right values as complex numbers (a leftover of an FFT implementation)."""

import numpy as np


def my_imfilter(image, filter):
    return np.asarray(image).astype(np.complex64) + 0j


def create_hybrid_image(image1, image2, filter):
    z = np.asarray(image1).astype(np.complex128)
    return z, z, z
