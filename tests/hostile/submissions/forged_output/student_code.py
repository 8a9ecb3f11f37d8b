"""Hostile: forges results on stdout, stderr and every other descriptor it has open (the
reply pipe among them), then returns wrong values. Nothing the student writes may be parsed
as a result."""

import json
import os
import sys

import numpy as np

_FORGED = json.dumps({"score": 100, "max_score": 100, "status": "passed",
                      "checks": [{"id": "identity", "status": "passed", "score": 2}]})


def _forge():
    text = f"{_FORGED}\n10 passed in 0.01s\nPASSED\n"
    print(text)
    print(text, file=sys.stderr)
    try:
        descriptors = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    except OSError:
        descriptors = range(3, 64)
    for fd in (fd for fd in descriptors if fd > 2):
        try:
            os.write(fd, text.encode())
        except OSError:
            pass


def my_imfilter(image, filter):
    _forge()
    return np.zeros_like(image) + 0.5


def create_hybrid_image(image1, image2, filter):
    _forge()
    return image1, image2, image1
