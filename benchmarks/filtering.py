"""The reference ``my_imfilter`` against scipy.ndimage and OpenCV, one thread, side by side.

Prints a Markdown table: seconds (best of ``--repeat``) on a 1024×1024×3 float32 image for
each kernel size, with a separable (Gaussian) and a non-separable (random) kernel, and the
ratios to scipy.ndimage.correlate (``mode="mirror"``, the reference's reflection) and
cv2.filter2D (``BORDER_REFLECT_101``, the same). Run: ``python benchmarks/filtering.py``.
"""

from __future__ import annotations

import argparse
import os
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # one thread everywhere, before numpy is imported

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from reference.filtering import create_gaussian_kernel, my_imfilter  # noqa: E402

SIZES = (3, 5, 7, 9, 11, 15, 31)


def kernels(size: int) -> dict[str, np.ndarray]:
    gaussian = create_gaussian_kernel((size - 1) / 4)
    random = np.random.default_rng(size).uniform(-1, 1, (size, size))
    return {"gaussian (separable)": gaussian, "random": random / np.abs(random).sum()}


def best(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--side", type=int, default=1024)
    options = parser.parse_args()
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        cv2 = None
    image = np.random.default_rng(0).random((options.side, options.side, 3), dtype=np.float32)
    print(f"{options.side}x{options.side}x3 float32, one thread, best of {options.repeat}\n")
    print("| kernel | reference (s) | scipy.ndimage (s) | cv2.filter2D (s) | ref / scipy | ref / cv2 |")
    print("|---|---|---|---|---|---|")
    for size in SIZES:
        for name, kernel in kernels(size).items():
            ours = best(lambda: my_imfilter(image, kernel), options.repeat)
            theirs = best(lambda: ndimage.correlate(image, kernel[:, :, None], mode="mirror"),
                          options.repeat)
            opencv = best(lambda: cv2.filter2D(image, -1, kernel.astype(np.float32)),
                          options.repeat) if cv2 else float("nan")
            print(f"| {size}x{size} {name} | {ours:.3f} | {theirs:.3f} | {opencv:.3f} | "
                  f"{ours / theirs:.2f} | {ours / opencv:.2f} |")


if __name__ == "__main__":
    main()
