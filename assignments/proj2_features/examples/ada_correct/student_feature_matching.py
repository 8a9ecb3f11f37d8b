"""Nearest-neighbour distance ratio matching, one row at a time."""

import numpy as np


def match_features(features1, features2, x1, y1, x2, y2):
    matches, confidences = [], []
    for i in range(len(features1)):
        distances = np.sqrt(((features2 - features1[i]) ** 2).sum(axis=1))
        nearest, second = np.argsort(distances)[:2]
        ratio = distances[nearest] / max(distances[second], 1e-10)
        if ratio < 0.8:
            matches.append([i, nearest])
            confidences.append(1 - ratio)
    matches = np.array(matches, dtype=int).reshape(-1, 2)
    confidences = np.array(confidences)
    order = np.argsort(-confidences)
    return matches[order], confidences[order]
