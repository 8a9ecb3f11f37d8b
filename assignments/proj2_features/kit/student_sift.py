"""Project 2: local feature matching — SIFT-like descriptors (your code goes here).

Conventions (the grader relies on them):

- ``image`` is an ``(H, W)`` greyscale array, ``float32`` in [0, 1].
- ``x`` is the **column** and ``y`` the **row** of each keypoint.
- The descriptor of a point is laid out cell by cell: the ``feature_width``
  window is split into a 4x4 grid of cells, visited row by row (top-left
  cell first), and each cell contributes an 8-bin histogram of gradient
  orientations, bin ``b`` covering the angles around ``b * 45`` degrees of
  ``arctan2(dy, dx)`` (y pointing down), weighted by gradient magnitude.
  4 x 4 x 8 = 128 values per point.
"""

import numpy as np


def get_features(image, x, y, feature_width, scales=None):
    """SIFT-like 128-dimensional descriptors at the given points.

    Baseline: for each point take the ``feature_width`` x ``feature_width``
    window around it, split it into 4x4 cells of ``feature_width / 4`` pixels,
    build one 8-orientation histogram of gradient magnitudes per cell, then
    concatenate and normalise each descriptor to unit length. Improvements
    that the grader accepts: Gaussian weighting of the window, soft
    (interpolated) binning, clipping at 0.2 and renormalising, raising to a
    power below 1 and renormalising.

    Parameters
    ----------
    image : (H, W) float32 ndarray
        Greyscale image in [0, 1] (``image.ndim == 2``).
    x : (K,) ndarray
        Column of each keypoint.
    y : (K,) ndarray
        Row of each keypoint.
    feature_width : int
        Side in pixels of the square window (16 in the notebook; a multiple
        of 4).
    scales : (K,) ndarray or None, optional
        Scale of each keypoint from your detector, if it estimates one.

    Returns
    -------
    features : (K, 128) ndarray
        One unit-length row per keypoint, in the order of ``x`` and ``y``.
        Adding a constant to the image must not change it (it is built from
        gradients).
    """
    raise NotImplementedError("`get_features` function in `student_sift.py` needs to be implemented")
