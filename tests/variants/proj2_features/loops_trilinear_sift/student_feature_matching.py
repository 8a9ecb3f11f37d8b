"""Correct variant: ratio test with a loop over descriptors and np.argsort for the two nearest."""

import numpy as np


def match_features(features1, features2, x1, y1, x2, y2):
    matches, confidences = [], []
    for i, f in enumerate(features1):
        d = np.sqrt(((features2 - f) ** 2).sum(axis=1))
        if len(d) < 2:
            break
        first, second = np.argsort(d, kind="stable")[:2]
        if d[second] > 0 and d[first] / d[second] < 0.8:
            matches.append([i, first])
            confidences.append(1 - d[first] / d[second])
    matches = np.array(matches, dtype=int).reshape(-1, 2)
    confidences = np.array(confidences)
    order = np.argsort(-confidences, kind="stable")
    return matches[order], confidences[order]
