"""Correct variant: SIFT-like descriptor, one keypoint at a time, with trilinear interpolation.

Each gradient's magnitude (Gaussian-weighted) is shared between the two
nearest orientation bins and the four nearest cells, then the descriptor is
normalised, clipped at 0.2 and renormalised (Lowe 2004, sec. 6.1).
"""

import numpy as np
from scipy import ndimage


def get_features(image, x, y, feature_width, scales=None):
    image = ndimage.gaussian_filter(np.asarray(image, dtype=np.float64), 0.8, mode="nearest")
    dy, dx = np.gradient(image)
    magnitude = np.sqrt(dx ** 2 + dy ** 2)
    angle = np.mod(np.arctan2(dy, dx), 2 * np.pi)
    fw, cell = feature_width, feature_width // 4
    half = fw // 2
    mag = np.pad(magnitude, half)
    ang = np.pad(angle, half)
    offsets = np.arange(fw) + 0.5 - half
    gauss = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * half ** 2))
    cell_pos = (np.arange(fw) + 0.5) / cell - 0.5  # position in cell units, centres at 0..3
    cell_weight = np.clip(1 - np.abs(cell_pos[:, None] - np.arange(4)[None, :]), 0, None)  # (fw, 4)
    features = np.zeros((len(x), 128))
    for k, (col, row) in enumerate(zip(np.rint(x).astype(int), np.rint(y).astype(int))):
        m = mag[row:row + fw, col:col + fw] * gauss
        o = ang[row:row + fw, col:col + fw] * 8 / (2 * np.pi)
        lower = np.floor(o)
        upper_share = o - lower
        bin_weight = np.zeros((fw, fw, 8))  # orientation share of each pixel in each bin
        ii, jj = np.indices((fw, fw))
        np.add.at(bin_weight, (ii, jj, lower.astype(int) % 8), 1 - upper_share)
        np.add.at(bin_weight, (ii, jj, (lower.astype(int) + 1) % 8), upper_share)
        # trilinear: rows share between cells (i -> a), columns (j -> b), angles (-> o)
        hist = np.einsum("ij,ia,jb,ijo->abo", m, cell_weight, cell_weight, bin_weight)
        v = hist.ravel()
        v = v / (np.linalg.norm(v) + 1e-12)
        v = np.minimum(v, 0.2)
        features[k] = v / (np.linalg.norm(v) + 1e-12)
    return features
