"""SIFT-like descriptor returned as a (k, 1, 128) array."""

import numpy as np


def get_features(image, x, y, feature_width, scales=None):
    gy, gx = np.gradient(image)
    magnitude = np.hypot(gx, gy)
    orientation = (np.degrees(np.arctan2(gy, gx)) + 360 + 22.5) % 360
    bins = (orientation // 45).astype(int) % 8
    half, cell = feature_width // 2, feature_width // 4
    fv = []
    for px, py in zip(x, y):
        px, py = int(px), int(py)
        top, left = py - half, px - half
        hist = np.zeros((4, 4, 8))
        for r in range(feature_width):
            for c in range(feature_width):
                rr, cc = top + r, left + c
                if 0 <= rr < image.shape[0] and 0 <= cc < image.shape[1]:
                    hist[r // cell, c // cell, bins[rr, cc]] += magnitude[rr, cc]
        v = hist.reshape(1, 128)
        fv.append(v / (np.linalg.norm(v) + 1e-8))
    return np.array(fv)
