"""Control: an honest, correct submission. It must earn every point, which shows
that the zeros the hostile submissions get are earned by the harness, not by a
rubric nobody can pass."""

import numpy as np


def my_imfilter(image, filter):
    image = np.asarray(image)
    kernel = np.asarray(filter, dtype=np.float64)
    planes = image[:, :, None] if image.ndim == 2 else image
    rows, cols = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(planes.astype(np.float64), ((rows, rows), (cols, cols), (0, 0)), mode="reflect")
    height, width = planes.shape[:2]
    out = np.zeros(planes.shape, dtype=np.float64)
    for u in range(kernel.shape[0]):
        for v in range(kernel.shape[1]):
            out += kernel[u, v] * padded[u:u + height, v:v + width]
    return out.reshape(image.shape).astype(image.dtype if image.dtype == np.float32 else np.float64)


def create_hybrid_image(image1, image2, filter):
    low = my_imfilter(image1, filter)
    high = image2 - my_imfilter(image2, filter)
    return low, high, np.clip(low + high, 0.0, 1.0)
