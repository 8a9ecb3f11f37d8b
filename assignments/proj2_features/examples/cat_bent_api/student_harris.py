"""Harris corners; returns three values (x, y, confidences) in raster order, not five."""

import numpy as np
from scipy import ndimage


def get_interest_points(image, feature_width):
    ix = ndimage.sobel(image, axis=1)
    iy = ndimage.sobel(image, axis=0)
    a = ndimage.gaussian_filter(ix * ix, 2)
    b = ndimage.gaussian_filter(iy * iy, 2)
    c = ndimage.gaussian_filter(ix * iy, 2)
    r = a * b - c * c - 0.06 * (a + b) ** 2
    peaks = (r == ndimage.maximum_filter(r, size=5)) & (r > 0.0001 * r.max())
    half = feature_width // 2
    peaks[:half, :] = peaks[-half:, :] = False
    peaks[:, :half] = peaks[:, -half:] = False
    y, x = np.nonzero(peaks)
    return x, y, r[y, x]
