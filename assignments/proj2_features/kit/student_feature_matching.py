"""Project 2: local feature matching — the ratio test (your code goes here).

Conventions (the grader relies on them):

- ``features1`` is ``(N, 128)``, ``features2`` is ``(M, 128)`` (one row per
  keypoint, as ``get_features`` returns them).
- ``x1, y1`` (``(N,)``) and ``x2, y2`` (``(M,)``) are the keypoints' columns
  and rows; the baseline matches on appearance only and may ignore them.
- The course evaluates **the first 100 rows of ``matches`` in the order you
  return them**: sort by decreasing confidence so those are your best.
"""

import numpy as np


def match_features(features1, features2, x1, y1, x2, y2):
    """Match descriptors with the nearest-neighbour distance ratio test.

    For each descriptor of image 1 find its nearest and second-nearest
    descriptors of image 2 (Euclidean distance) and keep the pair when the
    ratio ``d1 / d2`` is small (Szeliski eq. 4.18; 0.8 in Lowe 2004).

    Parameters
    ----------
    features1 : (N, 128) ndarray
        Descriptors of image 1.
    features2 : (M, 128) ndarray
        Descriptors of image 2.
    x1, y1 : (N,) ndarray
        Column and row of each keypoint of image 1.
    x2, y2 : (M,) ndarray
        Column and row of each keypoint of image 2.

    Returns
    -------
    matches : (K, 2) int ndarray
        ``matches[i] = [index into features1, index into features2]``,
        **most confident first**.
    confidences : (K,) ndarray
        Confidence of each match, larger is better (e.g. ``1 - d1 / d2``).
    """
    raise NotImplementedError("`match_features` function in `student_feature_matching.py` needs to be implemented")
