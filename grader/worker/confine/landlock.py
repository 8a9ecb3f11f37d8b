"""Landlock: the worker restricts its own filesystem, TCP and signal reach (Linux >= 5.13).

Landlock needs no privilege and no namespace, so it works where bubblewrap cannot: in
Gradescope's and most Docker/Kubernetes containers (their seccomp profiles allow the three
``landlock_*`` system calls), on GitHub's ubuntu-24.04 runners and on clusters without user
namespaces. Once :func:`restrict` returns, this process and everything it starts can open
only the paths it was granted, with only the rights it was granted; a later ``restrict``
can only narrow that further.

Written with ``ctypes`` on the three system calls (the same numbers on every architecture)
rather than a PyPI binding: this module runs inside the sandbox, in whatever interpreter
grades the student (a course environment may have only the course's packages), before
anything else is imported, so it must need nothing but the standard library.

What each ABI version adds (``abi()``): 1 the filesystem, 2 renaming across folders, 3
truncation, 4 TCP bind/connect, 5 device ioctls, 6 signals and abstract Unix sockets scoped
to the domain, 7 audit logging.
"""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Sequence

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # generic syscall table
_VERSION_FLAG = 1
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15

# The filesystem rights each ABI knows: a ruleset must not name rights the kernel lacks.
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
              5: (1 << 16) - 1}
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # allowed on a file rule
READ = EXECUTE | READ_FILE | READ_DIR
WRITE = _FS_BY_ABI[5] & ~(MAKE_CHAR | MAKE_BLOCK)  # device nodes need CAP_MKNOD anyway
DEVICE = READ_FILE | WRITE_FILE | IOCTL_DEV | TRUNCATE

_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class LandlockError(OSError):
    """Landlock is missing here, or refused a rule."""


def abi() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is absent or disabled."""
    version = _libc.syscall(ctypes.c_long(_CREATE_RULESET), None, ctypes.c_size_t(0),
                            ctypes.c_uint32(_VERSION_FLAG))
    return max(0, int(version))


def restrict(read: Sequence[str], write: Sequence[str], devices: Sequence[str] = (),
             listable: Sequence[str] = (), stamp: tuple | None = None) -> dict[str, bool]:
    """Allow only ``read`` (read and execute), ``write`` (full use), ``devices`` and listing
    the folders ``listable``; deny TCP, and scope signals and abstract Unix sockets to this
    domain where the kernel can.

    Paths that do not exist are skipped. A rule lands on the inode its path names when the
    ruleset is built, so the ruleset :func:`prebuild` made (in a warm worker's zygote,
    before it forked this process) is used only for the same rules and ``stamp`` (the
    caller's record of those inodes), and then closed. Returns what was enforced:
    ``{"filesystem": True, "tcp": abi >= 4, "signals": abi >= 6}``.

    Raises
    ------
    LandlockError
        When Landlock is unavailable or the kernel refuses the ruleset.
    """
    global _prebuilt
    key = (_key(read, write, devices, listable), stamp)
    if stamp is not None and _prebuilt is not None and _prebuilt[0] == key:
        ruleset, scopes = _prebuilt[1], _prebuilt[2]
        _prebuilt = None
    else:
        forget()
        ruleset, scopes = _build(read, write, devices, listable)
    _enforce(ruleset)
    return scopes


def narrow(read: Sequence[str], write: Sequence[str], devices: Sequence[str] = ()) -> None:
    """A further layer on the filesystem alone: of what the layers before allow, only
    ``read``, ``write`` and ``devices`` stay allowed (TCP and the scopes stay as they are)."""
    _enforce(_build(read, write, devices, (), files_only=True)[0])


def prebuild(read: Sequence[str], write: Sequence[str], devices: Sequence[str] = (),
             listable: Sequence[str] = (), stamp: tuple = ()) -> None:
    """Make the ruleset :func:`restrict` would, without restricting this process, and keep
    it, one at a time, for the processes this one forks. A forked process that does not
    restrict itself must :func:`forget` it: a ruleset's descriptor can still take rules."""
    global _prebuilt
    key = (_key(read, write, devices, listable), stamp)
    if _prebuilt is None or _prebuilt[0] != key:
        forget()
        _prebuilt = (key, *_build(read, write, devices, listable))


def held() -> list[int]:
    """The descriptor of the ruleset :func:`prebuild` keeps (to keep open across a fork)."""
    return [_prebuilt[1]] if _prebuilt is not None else []


def forget() -> None:
    """Close the prebuilt ruleset in this process."""
    global _prebuilt
    if _prebuilt is not None:
        os.close(_prebuilt[1])
        _prebuilt = None


_prebuilt: tuple[tuple, int, dict[str, bool]] | None = None  # (rules, ruleset fd, scopes)


def _key(*rules: Sequence[str]) -> tuple:
    return tuple(tuple(paths) for paths in rules)


def _build(read: Sequence[str], write: Sequence[str], devices: Sequence[str],
           listable: Sequence[str], files_only: bool = False) -> tuple[int, dict[str, bool]]:
    """A new ruleset's descriptor holding the rules, and what it will enforce (``files_only``:
    it handles the filesystem alone, leaving TCP and scopes to another layer)."""
    version = abi()
    if version < 1:
        raise LandlockError("Landlock is not enabled in this kernel (Linux 5.13+ with "
                            "CONFIG_SECURITY_LANDLOCK and 'landlock' in the lsm= list)")
    handled_fs = _FS_BY_ABI[min(version, 5)]
    handled_net = _NET_BIND_TCP | _NET_CONNECT_TCP if version >= 4 and not files_only else 0
    scoped = _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL if version >= 6 and not files_only else 0
    attr = struct.pack("=QQQ", handled_fs, handled_net, scoped)
    size = 8 if version < 4 else (16 if version < 6 else 24)
    ruleset = _check(_libc.syscall(ctypes.c_long(_CREATE_RULESET), ctypes.c_char_p(attr),
                                   ctypes.c_size_t(size), ctypes.c_uint32(0)), "create a ruleset")
    try:
        for paths, rights in ((read, READ), (write, WRITE), (devices, DEVICE),
                              (listable, READ_DIR)):
            for path in paths:
                _allow(ruleset, path, rights & handled_fs)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset, {"filesystem": True, "tcp": version >= 4, "signals": version >= 6}


def _enforce(ruleset: int) -> None:
    """Restrict this process (and what it starts) by ``ruleset``, which is closed."""
    try:
        _check(_libc.prctl(38, 1, 0, 0, 0), "set no_new_privs")  # PR_SET_NO_NEW_PRIVS
        _check(_libc.syscall(ctypes.c_long(_RESTRICT_SELF), ctypes.c_int(ruleset),
                             ctypes.c_uint32(0)), "restrict this process")
    finally:
        os.close(ruleset)


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # nothing there to grant
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = struct.pack("=Qi", rights, fd)  # struct landlock_path_beneath_attr (packed)
        _check(_libc.syscall(ctypes.c_long(_ADD_RULE), ctypes.c_int(ruleset),
                             ctypes.c_int(_RULE_PATH_BENEATH), ctypes.c_char_p(rule),
                             ctypes.c_uint32(0)), f"grant {path}")
    finally:
        os.close(fd)


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise LandlockError(errno, f"Landlock could not {what}: {os.strerror(errno)}")
    return int(result)
