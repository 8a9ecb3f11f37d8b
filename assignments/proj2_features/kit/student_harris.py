"""Project 2: local feature matching — Harris interest points (your code goes here).

Conventions (the grader relies on them):

- ``image`` is an ``(H, W)`` greyscale array, ``float32`` in [0, 1]: the course
  image scaled by 0.5 and converted to grey, exactly as the notebook does.
- Points are returned as ``x`` = **column** and ``y`` = **row** (integers or
  floats), both of shape ``(N,)``.
- Return the points **strongest first** and give their ``confidences``: the
  grader ranks your points by ``confidences`` (or, without them, in the
  order returned).
"""

import numpy as np


def get_interest_points(image, feature_width):
    """Detect Harris corners in a greyscale image.

    Compute image gradients, the Gaussian-weighted second-moment matrix, the
    Harris response ``R = det(M) - alpha * trace(M)**2`` (alpha about 0.04-0.06),
    keep local maxima (non-maximum suppression) above a threshold, drop points
    too close to the border for a ``feature_width`` window, and return the
    strongest ones first. Adaptive non-maximum suppression (ANMS) is optional;
    returning a few thousand points is fine.

    Parameters
    ----------
    image : (H, W) float32 ndarray
        Greyscale image in [0, 1].
    feature_width : int
        Side in pixels of the square descriptor window (16 in the notebook,
        always a multiple of 4). Points whose window would leave the image
        may be discarded.

    Returns
    -------
    x : (N,) ndarray
        Column of each interest point.
    y : (N,) ndarray
        Row of each interest point.
    confidences : (N,) ndarray or None
        Harris response (larger is stronger) of each point.
    scales : (N,) ndarray or None
        Optional; ``None`` for a single-scale detector.
    orientations : (N,) ndarray or None
        Optional; ``None`` without orientation estimation.
    """
    raise NotImplementedError("`get_interest_points` function in `student_harris.py` needs to be implemented")
