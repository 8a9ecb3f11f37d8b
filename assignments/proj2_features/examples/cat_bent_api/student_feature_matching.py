"""Ratio test; confidences are the nearest distances (lower is better), matches unsorted."""

import numpy as np


def match_features(features1, features2, x1, y1, x2, y2):
    f1 = features1.reshape(len(features1), -1)
    f2 = features2.reshape(len(features2), -1)
    d = np.sqrt(np.maximum((f1 ** 2).sum(1)[:, None] + (f2 ** 2).sum(1)[None] - 2 * f1 @ f2.T, 0))
    order = np.argsort(d, axis=1)
    best, second = order[:, 0], order[:, 1]
    rows = np.arange(len(f1))
    ratio = d[rows, best] / d[rows, second]
    keep = ratio < 0.85
    matches = np.stack([rows[keep], best[keep]], axis=1)
    return matches, d[rows, best][keep]
