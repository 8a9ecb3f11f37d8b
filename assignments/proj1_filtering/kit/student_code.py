"""Project 1: image filtering and hybrid images — your code goes here.

Conventions (the grader relies on them):

- Images are numpy arrays of shape ``(H, W, C)`` (colour, RGB) and dtype
  ``float32`` with values in [0, 1]. ``H`` is the number of rows (y), ``W``
  the number of columns (x).
- ``my_imfilter`` computes a **correlation**, exactly like ``cv2.filter2D``:
  ``out[i, j] = sum_{u, v} filter[u, v] * image[i + u - k//2, j + v - l//2]``.
  The kernel is *not* flipped (flipping it would make it a convolution); the
  difference shows with asymmetric kernels such as Sobel.
- You may not call a library filter (``cv2.filter2D``, ``scipy.ndimage``,
  ``scipy.signal``, ...) inside ``my_imfilter``; numpy is fine.
"""

import numpy as np


def my_imfilter(image, filter):
    """Apply a filter to an image, returning an image of the same size.

    Args:
        image: numpy array of shape (m, n, c), float32 in [0, 1].
        filter: numpy array of shape (k, l); k and l are both odd. Non-square
            kernels (e.g. 25x1 and 1x25) must work.

    Returns:
        filtered_image: numpy array of shape (m, n, c): the correlation of
        each channel with ``filter``.

    Padding is your choice (zeros, reflection, ...): the grader compares
    pixels at least half a kernel away from the border, except for the
    identity kernel, whose output must equal the input everywhere.
    Raise an error for a kernel with an even side.
    """
    raise NotImplementedError("`my_imfilter` function in `student_code.py` needs to be implemented")


def create_hybrid_image(image1, image2, filter):
    """Combine the low frequencies of image1 with the high frequencies of image2.

    Args:
        image1: numpy array of shape (m, n, c), float32 in [0, 1].
        image2: numpy array of the same shape as image1.
        filter: low-pass kernel of shape (k, l), both odd (e.g. a Gaussian).

    Returns:
        low_frequencies: image1 filtered with ``filter``, shape (m, n, c).
        high_frequencies: image2 minus image2 filtered with ``filter``
            (zero-mean; do not clip it), shape (m, n, c).
        hybrid_image: low_frequencies + high_frequencies clipped to [0, 1],
            shape (m, n, c).
    """
    raise NotImplementedError("`create_hybrid_image` function in `student_code.py` needs to be implemented")
