"""Broken (a course rule): my_imfilter calls the library filter the rubric forbids. Its
answers are right, so it loses exactly the forbidden function's points (the hybrid keeps
its two): the control for rewrite_own_source and pyc_smuggle."""

import numpy as np
from scipy import ndimage


def my_imfilter(image, filter):
    planes = [ndimage.correlate(image[:, :, c].astype(np.float64), filter, mode="mirror")
              for c in range(image.shape[2])]
    return np.stack(planes, axis=2).astype(image.dtype)


def create_hybrid_image(image1, image2, filter):
    low = my_imfilter(image1, filter)
    high = image2 - my_imfilter(image2, filter)
    return low, high, np.clip(low + high, 0.0, 1.0)
