"""Hostile: double-forks a daemon in a new session (setsid) that outlives the call, with a
marker in argv[0], then returns wrong values. The daemon is no longer a descendant of the
worker nor in its process group: only a PID namespace (bubblewrap) kills it for sure."""

import os

import numpy as np


def _daemon():
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                devnull = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.execv("/bin/sleep", ["HOSTILE_MARKER_daemon", "1000"])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def my_imfilter(image, filter):
    _daemon()
    return np.zeros_like(image)


def create_hybrid_image(image1, image2, filter):
    zeros = np.zeros_like(image1)
    return zeros, zeros, zeros
