"""Hostile: memory that no poll sees. An anonymous file (memfd_create) filled with fallocate
holds RAM that is in no process's address space (RLIMIT_AS) or mapped pages (the watchdog's
proportional set size): 1 GiB at import, under a 512 MiB limit, in files of 32 MiB (under
the file-size limit). It returns the right answers
only when it held more than the limit that way; the syscall allowlist refuses memfd_create,
and a cgroup's memory.max would charge the pages."""

import ctypes
import os

from attack import graded_if

_libc = ctypes.CDLL(None, use_errno=True)
_FILE, _HOLD = 32 << 20, 1 << 30


def _hoard():
    held = 0
    while held < _HOLD:
        fd = _libc.memfd_create(b"hoard", 0)
        if fd < 0:
            break
        try:
            os.posix_fallocate(fd, 0, _FILE)
        except OSError:
            break
        _KEPT.append(fd)  # held for as long as the worker lives
        held += os.fstat(fd).st_blocks * 512
    return held


_KEPT = []
_HELD = _hoard()

my_imfilter, create_hybrid_image = graded_if(lambda: _HELD > 512 << 20)
