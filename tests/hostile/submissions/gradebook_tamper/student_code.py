"""Hostile (escape): reads its parent's command line from /proc to find the gradebook
(--db) and the JSON output (--json), and tries to open them for writing (it leaves a
`.tampered` file beside them to prove it). It computes the right answer only when that
worked, so a sandbox that exposes the grader would hand it the points."""

import os

import numpy as np


def _tampered():
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as handle:
            argv = handle.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    done = False
    for flag in ("--db", "--json"):
        if flag in argv[:-1]:
            path = argv[argv.index(flag) + 1]
            try:
                with open(path + ".tampered", "w") as handle:
                    handle.write("tampered\n")
                done = True
            except OSError:
                pass
    return done


def _filter(image, filter):
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


def my_imfilter(image, filter):
    if _tampered():
        return _filter(image, filter)
    return np.zeros_like(image)


def create_hybrid_image(image1, image2, filter):
    if _tampered():
        low = _filter(image1, filter)
        high = image2 - _filter(image2, filter)
        return low, high, np.clip(low + high, 0.0, 1.0)
    zeros = np.zeros_like(image1)
    return zeros, zeros, zeros
