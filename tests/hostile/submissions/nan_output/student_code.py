"""Broken: NaN and infinity in the output (NaN compares False with everything, which a
naive `not (abs(a - b) > tol)` test would count as equal)."""

import numpy as np


def my_imfilter(image, filter):
    out = np.full(np.shape(image), np.nan, dtype=np.float32)
    out[0, 0] = np.inf
    return out


def create_hybrid_image(image1, image2, filter):
    out = np.full(np.shape(image1), np.nan)
    return out, out, out
