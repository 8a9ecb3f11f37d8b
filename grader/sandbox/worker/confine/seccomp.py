"""seccomp: the worker forbids itself the system calls a grading run never needs.

The filter is built with libseccomp (``libseccomp.so.2``: on every Debian, Ubuntu, Fedora
and RHEL system, since systemd needs it, and in Gradescope's and the common Docker base
images) through ``ctypes``. libseccomp is the maintained library that turns rules into
BPF for the running architecture, resolves system-call names per architecture and kills
foreign-architecture calls (the i386 ``int 0x80`` entry on x86-64); the Python bindings
on PyPI are thin, old (pyseccomp 0.1.2, 2021) wrappers of the same calls, and Debian's
``python3-seccomp`` binds only the system interpreter, whereas this module runs in
whatever interpreter grades the student, before anything else is imported.

Denied with ``EPERM`` (``EACCES`` for sockets): every socket but ``socketpair`` (no TCP,
UDP, raw, netlink or Unix-socket connections: the worker talks to the grader over inherited
pipes), ``ptrace`` and ``process_vm_readv/writev`` (no reading or writing another process),
mounts and the new mount API, ``bpf``, ``perf_event_open``, ``userfaultfd``, ``kexec_*``,
kernel modules, keyrings, ``io_uring`` (its operations bypass seccomp), namespace creation
(``unshare``, ``setns``, ``clone`` with a namespace flag; ``clone3`` answers ``ENOSYS`` so
that the C library falls back to ``clone``, whose flags can be checked), clock setting,
``reboot``, swap, ``chroot``, ``acct`` and ``personality``. With ``protect_pids`` signals
to those processes (and to every process, ``kill(-1)``) are refused as well: Landlock
scopes signals only from ABI 6, and this keeps the grader and the worker's supervisor safe
on older kernels.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
from collections.abc import Sequence

_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_CMP_MASKED_EQ = 7
_ATTR_BADARCH, _ATTR_NNP = 2, 3

DENIED = [
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr",
    "bpf", "perf_event_open", "userfaultfd", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "keyctl", "add_key", "request_key",
    "unshare", "setns", "reboot", "swapon", "swapoff", "acct", "personality",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog", "quotactl",
    "lookup_dcookie", "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm",
    "vhangup", "fanotify_init", "nfsservctl",
]
NOT_IMPLEMENTED = ["clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"]
NAMESPACE_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000]  # CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
_SIGNALS_BY_PID = {"kill": 0, "tgkill": 0, "tkill": 0, "rt_sigqueueinfo": 0,
                   "rt_tgsigqueueinfo": 0, "pidfd_open": 0}  # syscall -> index of the pid argument


class SeccompError(OSError):
    """libseccomp is missing, or the kernel refused the filter."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def _library():
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        raise SeccompError("libseccomp is not installed (Debian/Ubuntu: apt-get install "
                           "libseccomp2)") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    return lib


def available() -> bool:
    """Whether libseccomp can be loaded (the kernel's support is proven by :func:`install`)."""
    try:
        _library()
    except SeccompError:
        return False
    return True


def install(protect_pids: Sequence[int] = ()) -> None:
    """Load the filter into this process (and everything it starts from now on).

    Raises
    ------
    SeccompError
        When libseccomp is missing or the kernel refuses the filter.
    """
    lib = _library()
    context = lib.seccomp_init(_ALLOW)
    if not context:
        raise SeccompError("libseccomp could not start a filter")
    try:
        lib.seccomp_attr_set(context, _ATTR_BADARCH, _KILL_PROCESS)
        lib.seccomp_attr_set(context, _ATTR_NNP, 1)
        rule = _RuleAdder(lib, context)
        for name in DENIED:
            rule(name, errno.EPERM)
        for name in NOT_IMPLEMENTED:
            rule(name, errno.ENOSYS)
        rule("socket", errno.EACCES)
        for flag in NAMESPACE_FLAGS:
            rule("clone", errno.EPERM, (0, flag, flag))
        for pid in _protected_values(protect_pids):
            for name, index in _SIGNALS_BY_PID.items():
                rule(name, errno.EPERM, (index, 0xFFFFFFFF, pid & 0xFFFFFFFF))
        if lib.seccomp_load(context) != 0:
            raise SeccompError("the kernel refused the seccomp filter")
    finally:
        lib.seccomp_release(context)


def _protected_values(pids: Sequence[int]) -> list[int]:
    """Values of a pid argument that reach the protected processes: each pid, its process
    group (``-pid``), every process (``-1``) and this process group (``0``)."""
    if not pids:
        return []
    return sorted({-1, 0, *pids, *(-p for p in pids)})


class _RuleAdder:
    """``rule(name, errno, (arg, mask, value))``: deny ``name`` (when ``arg & mask == value``)."""

    def __init__(self, lib, context):
        self._lib, self._context = lib, context

    def __call__(self, name: str, code: int, masked: tuple[int, int, int] | None = None) -> None:
        number = self._lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return  # not a system call on this architecture
        count, pointer = 0, None
        if masked is not None:
            arg, mask, value = masked
            pointer = (_ArgCmp * 1)(_ArgCmp(arg, _CMP_MASKED_EQ, mask, value))
            count = 1
        if self._lib.seccomp_rule_add_array(self._context, _errno_action(code), number, count,
                                            pointer) != 0:
            raise SeccompError(f"libseccomp refused the rule for {name}")
