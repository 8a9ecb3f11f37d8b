"""The worker's supervisor: every process the student starts stays in its tree and dies with it.

The first process of a sandbox is this supervisor (trusted code: no student module is
ever imported here). It makes itself a *child subreaper* (``PR_SET_CHILD_SUBREAPER``), so
a daemon that double-forks, calls ``setsid`` and ``execve``s itself with a clean
environment is re-parented to the supervisor instead of escaping to init; it joins the
sandbox's cgroup where the grader made one; then it forks the worker, which confines
itself and serves requests. The supervisor

- reaps every orphan that comes back to it;
- when the worker exits, kills every process left in its tree and exits with the
  worker's status (``128 + signal`` when a signal killed it);
- when the grader closes the control pipe (or dies, which closes it too), kills the
  whole tree and exits.

As root, the supervisor keeps its uid while the worker drops to the sandbox's own, so the
student cannot signal it; otherwise Landlock's signal scope (or the seccomp filter)
protects it.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal

_PR_SET_CHILD_SUBREAPER = 36
_CLONE_NEWIPC = 0x08000000
_libc = ctypes.CDLL(None, use_errno=True)


def become_subreaper() -> bool:
    """Make orphaned descendants come back to this process (Linux 3.4+)."""
    return _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def own_ipc_namespace() -> bool:
    """Give the sandbox an IPC namespace of its own (System V objects and POSIX message queues
    that no other sandbox sees, gone when it ends) where this process may: a root supervisor,
    or one whose zygote shares an IPC namespace with its other sandboxes. Elsewhere the
    syscall allowlist refuses those calls to student code."""
    return _libc.unshare(_CLONE_NEWIPC) == 0


def join_cgroup(entries: list) -> None:
    """Move this process, single-threaded, (and so everything it starts) into the cgroup
    leaf whose entry files (one per hierarchy: ``Leaf.entry_files``) are ``entries``: paths,
    or descriptors the grader opened for a warm sandbox (which cannot see the cgroup tree;
    they are closed here, all of them, whether or not a move failed: a descriptor of a
    cgroup file the grader opened must never reach the worker)."""
    try:
        for entry in entries:
            if isinstance(entry, int):
                os.write(entry, b"0")  # "0": the writer itself
            else:
                with open(entry, "wb", buffering=0) as file:
                    file.write(b"0")
    finally:
        for entry in entries:
            if isinstance(entry, int):
                try:
                    os.close(entry)
                except OSError:
                    pass


def supervise(worker: int, control_fd: int) -> int:
    """Reap orphans until ``worker`` exits or ``control_fd`` closes; kill the rest; status."""
    status = None
    while status is None:
        readable, _, _ = select.select([control_fd], [], [], 0.2)
        if readable and not _read_or_eof(control_fd):
            break  # the grader closed the session, or died
        status = _reap(worker)
    kill_descendants()
    if status is None:
        return 0
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def kill_descendants() -> None:
    """SIGKILL every descendant until none is left (orphans keep coming back here). A
    subreaper without children has no descendants (a process's orphans are handed to it as
    the process exits), so the sweep of ``/proc`` runs only when there is one."""
    me = os.getpid()
    for _ in range(1000):
        _reap(None)
        if not _has_children():
            return
        for pid in _descendants(me):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _reap(worker: int | None) -> int | None:
    """Reap every exited child; return ``worker``'s wait status if it was among them."""
    found = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == worker:
            found = status


def _has_children() -> bool:
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return False
    return True if pid == 0 else _has_children()


def _read_or_eof(fd: int) -> bool:
    try:
        return bool(os.read(fd, 64))
    except BlockingIOError:
        return True
    except OSError:
        return False


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    stat = handle.read()
                parent = int(stat[stat.rindex(b")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
