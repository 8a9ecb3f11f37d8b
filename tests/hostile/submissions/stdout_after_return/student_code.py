"""Hostile: starts a thread that keeps printing after the function has returned (wrong
values), so the worker's output never runs dry while the parent collects the reply."""

import sys
import threading

import numpy as np

_LINE = "still talking " * 4000 + "\n"


def _chatter():
    while True:
        sys.stdout.write(_LINE)


_thread = threading.Thread(target=_chatter, daemon=True)


def my_imfilter(image, filter):
    if not _thread.is_alive():
        _thread.start()
    return np.zeros_like(image)


def create_hybrid_image(image1, image2, filter):
    zeros = np.zeros_like(image1)
    return zeros, zeros, zeros
