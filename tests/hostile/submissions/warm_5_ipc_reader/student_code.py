"""Hostile (sequence, after warm_4_ipc_plant): honest code would return zeros here. It looks
for what warm_4_ipc_plant left in System V shared memory or a POSIX message queue and, if it
finds the planted source, runs it and returns its answers (7/7). Its own sandbox must find
nothing: its own IPC namespace, and the allowlist refuses System V IPC and message queues.
It removes what it found, so that nothing stays allocated after the test."""

import ctypes
import os

import numpy as np

_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
KEY = 0x67726472
SIZE = 1 << 16


def _stolen():
    shm = _libc.shmget(KEY, SIZE, 0)
    if shm < 0:
        return None
    address = _libc.shmat(shm, None, 0o10000)  # SHM_RDONLY
    _libc.shmctl(shm, 0, None)  # IPC_RMID: gone once detached
    if address in (None, ctypes.c_void_p(-1).value):
        return None
    namespace = {"__name__": "stolen"}
    exec(compile(ctypes.string_at(address).decode(), "stolen", "exec"), namespace)
    return namespace


def _queue_found():
    queue = _libc.mq_open(b"/grader_hostile_plant", os.O_RDONLY, 0, None)
    if queue < 0:
        return False
    _libc.mq_unlink(b"/grader_hostile_plant")
    return True


_QUEUE = _queue_found()
_FOUND = _stolen()


def my_imfilter(image, filter):
    if _FOUND:
        return _FOUND["correct_filter"](image, filter)
    return np.zeros_like(image)


def create_hybrid_image(image1, image2, filter):
    zeros = np.zeros_like(image1)
    if not _FOUND:
        return zeros, zeros, zeros
    low = _FOUND["correct_filter"](image1, filter)
    high = image2 - _FOUND["correct_filter"](image2, filter)
    return low, high, np.clip(low + high, 0.0, 1.0)
