"""The C allocator's thresholds in a grading process that Dask's nanny started.

Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (its
``distributed.nanny.pre-spawn-environ``), so that freed memory goes back to the system and
its memory monitor sees less. Setting that variable at all also fixes glibc's mmap threshold
at 128 KiB, which otherwise grows with the blocks a program frees: every array above it is
then a fresh ``mmap`` whose pages fault in again, and every free gives them back. Grading
allocates and frees the same arrays case after case (inputs, outputs, their comparisons), and
on this project's machine 50 proj1 gradings took 10.5 % longer with the variable set (15.7 s
against 14.2 s, median of 3, one worker) and 14.0 s with the thresholds below restored.

A leaf module (standard library only).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

DASK_TRIM_ENV = "MALLOC_TRIM_THRESHOLD_"
# glibc's mallopt parameters (malloc.h) and the largest thresholds its dynamic adjustment reaches
# on a 64-bit system: DEFAULT_MMAP_THRESHOLD_MAX and twice that for trimming
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES


@functools.lru_cache(maxsize=1)
def restore_thresholds() -> bool:
    """Once per process: where ``MALLOC_TRIM_THRESHOLD_`` is set and the C library is glibc,
    set the mmap threshold to 32 MiB and the trim threshold to 64 MiB (what glibc's own
    adjustment grows to); return whether they were set. Elsewhere nothing changes."""
    if DASK_TRIM_ENV not in os.environ:
        return False
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


def _glibc_mallopt():
    """glibc's ``mallopt(int, int) -> int``, or None under another C library (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError outside glibc
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt
