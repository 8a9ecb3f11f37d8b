"""SIFT-like descriptor, one keypoint at a time (loops, but only over points and cells)."""

import numpy as np


def get_features(image, x, y, feature_width, scales=None):
    assert image.ndim == 2
    dy, dx = np.gradient(image.astype(np.float64))
    magnitude = np.sqrt(dx ** 2 + dy ** 2)
    angle = np.arctan2(dy, dx) % (2 * np.pi)
    bins = np.floor(angle / (np.pi / 4) + 0.5).astype(int) % 8

    half = feature_width // 2
    cell = feature_width // 4
    pad = ((half, half), (half, half))
    magnitude = np.pad(magnitude, pad)
    bins = np.pad(bins, pad)

    features = np.zeros((len(x), 128))
    for k in range(len(x)):
        r, c = int(round(y[k])), int(round(x[k]))
        window_m = magnitude[r:r + feature_width, c:c + feature_width]
        window_b = bins[r:r + feature_width, c:c + feature_width]
        descriptor = []
        for i in range(4):
            for j in range(4):
                m = window_m[i * cell:(i + 1) * cell, j * cell:(j + 1) * cell].ravel()
                b = window_b[i * cell:(i + 1) * cell, j * cell:(j + 1) * cell].ravel()
                descriptor.append(np.bincount(b, weights=m, minlength=8))
        d = np.concatenate(descriptor)
        d = d / (np.linalg.norm(d) + 1e-10)
        d = np.minimum(d, 0.2)
        features[k] = d / (np.linalg.norm(d) + 1e-10)
    return features
