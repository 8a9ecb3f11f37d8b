"""Hostile: system calls nobody listed, through ctypes. Each is one a sandbox never needs and
an attacker likes (kernel keyrings, BPF, performance counters, user-space page faults,
io_uring, System V and POSIX IPC, anonymous memory files, namespaces, the new mount API,
another process's memory, terminal injection, unrandomised memory); none that would change
the machine where it succeeds (a mount on /tmp, a new host name). It returns the right answers when
any of them succeeds; the allowlist refuses every one, so in an isolated mode it earns
nothing. The numbers are x86-64's where glibc has no wrapper (other architectures skip those)."""

import ctypes
import os
import platform

from attack import graded_if

_libc = ctypes.CDLL(None, use_errno=True)
_X86_64 = platform.machine() == "x86_64"
# name -> (x86-64 number, arguments)
_RAW = {
    "add_key": (248, (b"user", b"k", b"v", 1, -2)),       # KEY_SPEC_PROCESS_KEYRING
    "keyctl": (250, (0, -2, 0, 0, 0)),                      # KEYCTL_GET_KEYRING_ID
    "bpf": (321, (0, None, 0)),
    "perf_event_open": (298, (None, 0, -1, -1, 0)),
    "userfaultfd": (323, (0,)),
    "io_uring_setup": (425, (4, None)),
    "pidfd_getfd": (438, (0, 0, 0)),
    "kcmp": (312, (os.getpid(), 1, 0, 0, 0)),
    "process_madvise": (440, (0, None, 0, 0, 0)),
    "fsopen": (430, (b"tmpfs", 0)),
    "open_tree": (428, (-100, b"/", 1)),                    # OPEN_TREE_CLONE
    "mq_open": (240, (b"grader_hostile_mq", 0o102, 0o600, None)),  # O_CREAT | O_RDWR
    "landlock_create_ruleset": (444, (None, 0, 1)),
}


def _wrapped():
    """glibc wrappers: (name, call)."""
    return [
        ("shmget", lambda: _libc.shmget(0, 4096, 0o1600)),
        ("semget", lambda: _libc.semget(0, 1, 0o1600)),
        ("msgget", lambda: _libc.msgget(0, 0o1600)),
        ("memfd_create", lambda: _libc.memfd_create(b"x", 0)),
        ("unshare", lambda: _libc.unshare(0x08000000)),         # CLONE_NEWIPC
        ("setns", lambda: _libc.setns(0, 0)),
        ("chroot", lambda: _libc.chroot(b"/")),
        ("ptrace", lambda: _libc.ptrace(0, 0, None, None)),      # PTRACE_TRACEME
        ("personality", lambda: _libc.personality(0x0040000)),   # ADDR_NO_RANDOMIZE
        ("prctl", lambda: _libc.prctl(0x59616D61, -1, 0, 0, 0)),  # PR_SET_PTRACER any
        ("ioctl", lambda: _libc.ioctl(1, 0x5412, b"x")),         # TIOCSTI
        ("mlockall", lambda: _libc.mlockall(1)),
        ("inotify_init1", lambda: _libc.inotify_init1(0)),
        ("syslog", lambda: _libc.klogctl(3, ctypes.create_string_buffer(64), 64)),
    ]


def _raw():
    if not _X86_64:
        return []
    return [(name, lambda n=number, a=args: _libc.syscall(n, *a)) for name, (number, args) in _RAW.items()]


def _succeeded():
    worked = []
    for name, call in _wrapped() + _raw():
        if call() >= 0:
            worked.append(name)
    return worked


SUCCEEDED = _succeeded()
print("succeeded:", SUCCEEDED)

my_imfilter, create_hybrid_image = graded_if(lambda: bool(SUCCEEDED))
