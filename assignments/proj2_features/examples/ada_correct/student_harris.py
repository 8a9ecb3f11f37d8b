"""Harris corners: Sobel gradients, Gaussian window, 3x3 non-maximum suppression."""

import numpy as np
from scipy import ndimage


def get_interest_points(image, feature_width):
    image = image.astype(np.float64)
    ix = ndimage.sobel(image, axis=1) / 8.0
    iy = ndimage.sobel(image, axis=0) / 8.0
    sxx = ndimage.gaussian_filter(ix * ix, 1.5)
    syy = ndimage.gaussian_filter(iy * iy, 1.5)
    sxy = ndimage.gaussian_filter(ix * iy, 1.5)
    response = sxx * syy - sxy ** 2 - 0.04 * (sxx + syy) ** 2

    local_max = response == ndimage.maximum_filter(response, size=3)
    strong = response > 1e-5 * response.max()
    rows, cols = np.nonzero(local_max & strong)
    half = feature_width // 2
    h, w = image.shape
    inside = (rows >= half) & (rows <= h - half) & (cols >= half) & (cols <= w - half)
    rows, cols = rows[inside], cols[inside]

    confidences = response[rows, cols]
    order = np.argsort(-confidences)[:4000]
    return cols[order], rows[order], confidences[order], None, None
