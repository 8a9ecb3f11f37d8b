"""Hostile (a course rule): calls the forbidden library filter, and at import rewrites its own
file so that the source read afterwards no longer shows the call — where its copy is writable
and the rule read the file after grading, it escaped the penalty. The source graded is read
before any student code runs, from a copy the sandbox cannot write."""

import numpy as np
from scipy import ndimage

try:
    with open(__file__) as handle:
        _text = handle.read()
    with open(__file__, "w") as handle:
        handle.write(_text.replace("ndimage.correlate(", "ndimage_corr" + "elate("))
except OSError:
    pass
ndimage_correlate = ndimage.correlate  # what the rewritten file calls


def my_imfilter(image, filter):
    planes = [ndimage.correlate(image[:, :, c].astype(np.float64), filter, mode="mirror")
              for c in range(image.shape[2])]
    return np.stack(planes, axis=2).astype(image.dtype)


def create_hybrid_image(image1, image2, filter):
    low = my_imfilter(image1, filter)
    high = image2 - my_imfilter(image2, filter)
    return low, high, np.clip(low + high, 0.0, 1.0)

