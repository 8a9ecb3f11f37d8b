"""Hostile: a memory bomb that bypasses the address-space limit by filling RAM-backed
files at import time: 32 MiB files (under the file-size limit) in /dev/shm and /tmp, which
inside bubblewrap are tmpfs, up to 768 MiB at most (bounded so a missing limit cannot take
the machine down). It returns the right answer only when it held more than the rubric's
512 MiB that way, so an effective memory limit gives it zero. Bubblewrap-only: without it
these folders are the host's."""

import os

from attack import graded_if

_BLOCK = b"\xa5" * (32 << 20)


def _hoard(limit=768 << 20):
    stored, index = 0, 0
    for folder in ("/dev/shm", "/tmp"):
        while stored < limit:
            try:
                with open(os.path.join(folder, f"hoard_{index}"), "wb") as handle:
                    handle.write(_BLOCK)
            except OSError:
                break
            stored += len(_BLOCK)
            index += 1
    return stored


_STORED = _hoard()


my_imfilter, create_hybrid_image = graded_if(lambda: _STORED > 512 << 20)
