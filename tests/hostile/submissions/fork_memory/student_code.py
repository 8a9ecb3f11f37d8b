"""Hostile (memory): forks six children that each hold 300 MiB, under a 512 MiB limit — every
process stays under its own address-space limit, the tree holds about 1.8 GiB. Then it
returns the right answers. Only a limit on the whole tree (the parent's watchdog, a cgroup)
stops it: a `memory` result."""

import os
import time

import numpy as np

from attack import correct_filter

CHILDREN, MIB = 6, 300


def _hold():
    pids = []
    for _ in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            try:
                block = np.ones(MIB << 17)  # float64: MIB MiB, touched
                block[::512] = 2.0
                time.sleep(3)
            finally:
                os._exit(0)
        pids.append(pid)
    time.sleep(1.5)
    for pid in pids:
        os.waitpid(pid, os.WNOHANG)


def my_imfilter(image, filter):
    _hold()
    return correct_filter(image, filter)


def create_hybrid_image(image1, image2, filter):
    _hold()
    low = correct_filter(image1, filter)
    high = image2 - correct_filter(image2, filter)
    return low, high, np.clip(low + high, 0.0, 1.0)
