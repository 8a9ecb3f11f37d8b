"""Correct variant: Harris with derivative-of-Gaussian gradients computed by hand (np.gradient)."""

import numpy as np
from scipy import ndimage


def get_interest_points(image, feature_width):
    smooth = ndimage.gaussian_filter(np.asarray(image, dtype=np.float64), 1.0, mode="nearest")
    iy, ix = np.gradient(smooth)
    a = ndimage.gaussian_filter(ix * ix, 2.0, mode="nearest")
    b = ndimage.gaussian_filter(iy * iy, 2.0, mode="nearest")
    c = ndimage.gaussian_filter(ix * iy, 2.0, mode="nearest")
    response = (a * b - c * c) - 0.06 * (a + b) ** 2
    local_max = response == ndimage.maximum_filter(response, size=3, mode="nearest")
    strong = response > max(0.0, 1e-5 * response.max())
    ys, xs = np.nonzero(local_max & strong)
    h, w = response.shape
    half = feature_width // 2
    inside = (xs >= half) & (xs <= w - half) & (ys >= half) & (ys <= h - half)
    xs, ys = xs[inside], ys[inside]
    conf = response[ys, xs]
    order = np.argsort(-conf, kind="stable")[:5000]
    return xs[order], ys[order], conf[order], None, None
