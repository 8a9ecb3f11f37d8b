"""Hostile (escape): tries to write files outside its scratch folder: /tmp, /var/tmp,
/dev/shm, the real home, the repository and its own submission folder. It computes the
right answer only when such a write succeeded, so a leaky sandbox would hand it the
points. Under bubblewrap every attempt fails or lands in a throw-away tmpfs."""

import os

import numpy as np

NAME = "grader_hostile_write_outside"
HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = [f"/tmp/{NAME}", f"/var/tmp/{NAME}", f"/dev/shm/{NAME}", f"/root/{NAME}",
           f"/work/main/tests/hostile/{NAME}", f"/work/main/{NAME}", os.path.join(HERE, NAME)]


def _escaped():
    escaped = False
    for target in TARGETS:
        try:
            with open(target, "w") as handle:
                handle.write("escaped the sandbox\n")
        except OSError:
            continue
        # Inside bubblewrap, /, /root, /tmp and /dev/shm are private, throw-away tmpfs: a
        # write there is no escape by itself (the test checks that the host's copies are
        # absent). The other targets exist on the host only, or are read-only inside.
        escaped = escaped or not target.startswith(("/tmp/", "/dev/shm/", "/root/"))
    return escaped


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
    with open("allowed_in_scratch.txt", "w") as handle:  # the scratch folder is writable
        handle.write("fine\n")
    if _escaped():
        return _filter(image, filter)
    return np.zeros_like(image)


def create_hybrid_image(image1, image2, filter):
    if _escaped():
        low = _filter(image1, filter)
        high = image2 - _filter(image2, filter)
        return low, high, np.clip(low + high, 0.0, 1.0)
    zeros = np.zeros_like(image1)
    return zeros, zeros, zeros
