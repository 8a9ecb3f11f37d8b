"""Broken: wrong return types: None, a list of lists of strings, a dict, a string."""

import numpy as np


def my_imfilter(image, filter):
    if np.shape(filter) == (3, 3):
        return None
    if np.shape(filter) == (3, 5):
        return [["0.1" for _ in range(np.shape(image)[1])] for _ in range(np.shape(image)[0])]
    return {"filtered_image": np.asarray(image).tolist()}


def create_hybrid_image(image1, image2, filter):
    return "low", "high", "hybrid"
