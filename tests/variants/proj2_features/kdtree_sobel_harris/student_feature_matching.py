"""Correct variant: ratio test with a KD-tree (scipy.spatial.cKDTree) instead of a distance matrix."""

import numpy as np
from scipy.spatial import cKDTree


def match_features(features1, features2, x1, y1, x2, y2):
    if len(features1) == 0 or len(features2) < 2:
        return np.zeros((0, 2), dtype=int), np.zeros(0)
    distances, indices = cKDTree(features2).query(features1, k=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(distances[:, 1] > 0, distances[:, 0] / distances[:, 1], 1.0)
    keep = np.nonzero(ratio < 0.8)[0]
    keep = keep[np.argsort(ratio[keep], kind="stable")]
    matches = np.column_stack([keep, indices[keep, 0]]).astype(int)
    return matches, 1.0 - ratio[keep]
