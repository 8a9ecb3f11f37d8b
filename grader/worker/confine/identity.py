"""Who the worker is: an unprivileged uid of its own, and no capabilities.

When the grader runs as root (Gradescope, containers, CI), the worker becomes a dedicated
uid and gid with no supplementary groups before any student code runs, so that owner bits
protect the grader's files, ``RLIMIT_NPROC`` applies, and the grader, its supervisor and
other students' workers (other uids) cannot be signalled or traced. Where that is not
possible a root worker at least gives up every capability, as ``bwrap --cap-drop ALL``
does: uid 0 without capabilities cannot raise its limits, bypass permissions or load code
into the kernel.
"""

from __future__ import annotations

import ctypes
import os

_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 24, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_VERSION_3 = 0x20080522
_LAST_CAP = 63

_libc = ctypes.CDLL(None, use_errno=True)


def become(uid: int, gid: int) -> None:
    """Switch to ``uid``/``gid`` with no supplementary groups (this drops every capability)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise PermissionError(f"could not become uid {uid}")


def drop_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable capability sets."""
    for cap in range(_LAST_CAP + 1):
        _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the kernel's last: ignored
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable} triples, all zero
    if _libc.capset(header, data) != 0:
        raise PermissionError(ctypes.get_errno(), "capset refused to drop capabilities")


def holds_capabilities() -> bool:
    """Whether this process has any capability, in any set (root, or a warm worker's
    supervisor that kept CAP_SYS_ADMIN in its own user namespace to unshare one per sandbox)."""
    if os.geteuid() == 0:
        return True
    try:
        with open("/proc/self/status") as status:
            sets = [line.split()[1] for line in status if line.startswith(("CapPrm:", "CapAmb:", "CapEff:"))]
    except (OSError, IndexError):
        return False
    return any(int(value, 16) for value in sets)


def no_new_privileges() -> None:
    """No setuid binary or file capability can give this process more than it has now."""
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise PermissionError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def die_with_parent() -> None:
    """SIGKILL this process when its parent (the supervisor) dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
