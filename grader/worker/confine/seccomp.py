"""seccomp: the worker allows itself only the system calls computation needs.

The rules come in the launch spec, compiled by the trusted side from the reviewed allowlist
``grader/sandbox/syscalls.yaml`` (:mod:`grader.sandbox.syscall_policy`): every call that
is not allowed is refused (``EPERM``; ``ENOSYS`` for the few that libraries probe and fall
back from, such as ``clone3`` and ``io_uring``), and a call whose forms differ in danger is
allowed only in the safe ones (``clone`` without namespace flags, ``socket`` only for Unix
sockets inside namespaces, ``ioctl`` for terminal queries, ``prctl`` for reading options).

Two filters are loaded, and the kernel applies the stricter answer of the two: the
allowlist, and (with ``protect_pids``) one that refuses what the allowlist's rules cannot
express: signals to the protected processes — the grader, the supervisor, a warm worker's
zygote — to their process groups and to every process (``kill(-1)``), pinning them to a core
(``sched_setaffinity``), and typing into a terminal (``TIOCSTI``, ``TIOCLINUX``) where the
allowlist lets every ``ioctl`` through for a GPU. A seccomp rule may test each argument once,
so "any pid but these" cannot be one allowlist rule; Landlock scopes signals only from ABI 6,
and this keeps the grader safe on older kernels too. The protecting filter is loaded first:
once the allowlist holds, ``seccomp()`` itself is refused.

The filter is built with libseccomp (``libseccomp.so.2``: on every Debian, Ubuntu, Fedora
and RHEL system, since systemd needs it, and in Gradescope's and the common Docker base
images) through ``ctypes``. libseccomp turns rules into BPF for the running architecture
(as a binary tree of system-call numbers), resolves names per architecture (a name the
architecture lacks is skipped) and kills foreign-architecture calls (the i386 ``int 0x80``
entry on x86-64). Standard library only: this runs before numpy is imported.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import ctypes.util
import errno
import functools
import os
from collections.abc import Sequence

_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_CMP_MASKED_EQ = 7
_ATTR_BADARCH, _ATTR_NNP, _ATTR_OPTIMIZE = 2, 3, 8
_BINARY_TREE = 2
_SIGNALS_BY_PID = {"kill": 0, "tgkill": 0, "tkill": 0, "rt_sigqueueinfo": 0,
                   "rt_tgsigqueueinfo": 0, "pidfd_open": 0}  # syscall -> index of the pid argument
_AIMED_AT_A_PID = {"sched_setaffinity": 0}  # acts on the one process its pid names (0: itself)
_TERMINAL_INJECTION = (0x5412, 0x541C)  # TIOCSTI, TIOCLINUX: typing into a terminal


class SeccompError(OSError):
    """libseccomp is missing, or the kernel refused the filter."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _SockFprog(ctypes.Structure):  # struct sock_fprog: what the kernel loads
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


@functools.cache
def _library():
    """libseccomp, by its usual name first (``find_library`` runs ``ldconfig``: 1.5 ms)."""
    for name in ("libseccomp.so.2", ctypes.util.find_library("seccomp")):
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            break
        except (OSError, TypeError):
            continue
    else:
        raise SeccompError("libseccomp is not installed (Debian/Ubuntu: apt-get install "
                           "libseccomp2)")
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def available() -> bool:
    """Whether libseccomp can be loaded (the kernel's support is proven by :func:`install`)."""
    try:
        _library()
    except SeccompError:
        return False
    return True


def install(rules: dict, protect_pids: Sequence[int] = ()) -> None:
    """Load the allowlist ``rules`` (``syscall_policy.Policy.rules``) into this process and
    everything it starts from now on, with signals to ``protect_pids`` refused.

    Raises
    ------
    SeccompError
        When libseccomp is missing or the kernel refuses a filter.
    """
    lib = _library()
    program = compile_allowlist(rules)  # compiled once per zygote, before it forks
    if protect_pids:
        _load(lib, _ALLOW, lambda add: _protect(add, protect_pids))
    _load_program(program)


def compile_allowlist(rules: dict) -> bytes:
    """The allowlist ``rules`` as the BPF program the kernel runs (``struct sock_filter``
    entries), compiled once per process for the last rules seen (about 2 ms)."""
    global _compiled
    if _compiled is None or _compiled[0] != rules:
        program = _export(_library(), _errno_action(rules["default"]),
                          lambda add: _allowlist(add, rules))
        _compiled = (copy.deepcopy(rules), program)
    return _compiled[1]


_compiled: tuple[dict, bytes] | None = None  # (rules, program)


def _load_program(program: bytes) -> None:
    """Load a compiled filter into this process (``no_new_privs`` set first, as libseccomp
    does)."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0 or \
            libc.prctl(22, 2, ctypes.c_void_p(ctypes.addressof(fprog)), 0, 0) != 0:
        # PR_SET_NO_NEW_PRIVS, then PR_SET_SECCOMP with SECCOMP_MODE_FILTER
        raise SeccompError(ctypes.get_errno(), "the kernel refused the seccomp filter")


def _allowlist(add, rules: dict) -> None:
    for name, masked in rules["allow"]:
        add(name, _ALLOW, tuple(masked) if masked else None)
    for name, code in rules["errno"]:
        add(name, _errno_action(code), None)


def _protect(add, pids: Sequence[int]) -> None:
    refuse = _errno_action(errno.EPERM)
    for pid in _protected_values(pids):
        for name, index in _SIGNALS_BY_PID.items():
            add(name, refuse, (index, 0xFFFFFFFF, pid & 0xFFFFFFFF))
    for pid in pids:
        for name, index in _AIMED_AT_A_PID.items():
            add(name, refuse, (index, 0xFFFFFFFF, pid & 0xFFFFFFFF))
    for request in _TERMINAL_INJECTION:  # where the allowlist lets every ioctl through (GPUs)
        add("ioctl", refuse, (1, 0xFFFFFFFF, request))


def _load(lib, default_action: int, fill) -> None:
    with _filter(lib, default_action, fill) as context:
        if lib.seccomp_load(context) != 0:
            raise SeccompError("the kernel refused the seccomp filter")


def _export(lib, default_action: int, fill) -> bytes:
    with _filter(lib, default_action, fill) as context:
        out = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            if lib.seccomp_export_bpf(context, out) != 0:
                raise SeccompError("libseccomp could not compile the filter")
            return os.pread(out, 1 << 20, 0)
        finally:
            os.close(out)


@contextlib.contextmanager
def _filter(lib, default_action: int, fill):
    """A libseccomp filter with ``fill``'s rules (released on leaving)."""
    context = lib.seccomp_init(default_action)
    if not context:
        raise SeccompError("libseccomp could not start a filter")
    try:
        lib.seccomp_attr_set(context, _ATTR_BADARCH, _KILL_PROCESS)
        lib.seccomp_attr_set(context, _ATTR_NNP, 1)
        lib.seccomp_attr_set(context, _ATTR_OPTIMIZE, _BINARY_TREE)  # older libseccomp: linear
        fill(_RuleAdder(lib, context))
        yield context
    finally:
        lib.seccomp_release(context)


def _protected_values(pids: Sequence[int]) -> list[int]:
    """Values of a pid argument that reach the protected processes: each pid, its process
    group (``-pid``), every process (``-1``) and this process group (``0``)."""
    return sorted({-1, 0, *pids, *(-p for p in pids)})


class _RuleAdder:
    """``add(name, action, (arg, mask, value))``: ``action`` for ``name`` (when
    ``arg & mask == value``; always without the triple)."""

    def __init__(self, lib, context):
        self._lib, self._context = lib, context

    def __call__(self, name: str, action: int, masked: tuple[int, int, int] | None) -> None:
        number = self._lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return  # not a system call on this architecture
        count, pointer = 0, None
        if masked is not None:
            arg, mask, value = masked
            pointer = (_ArgCmp * 1)(_ArgCmp(arg, _CMP_MASKED_EQ, mask, value))
            count = 1
        if self._lib.seccomp_rule_add_array(self._context, action, number, count, pointer) != 0:
            raise SeccompError(f"libseccomp refused the rule for {name}")
