"""Find and kill a whole process tree, leaving nothing behind."""

from __future__ import annotations

import os
import signal


def descendants(pid: int) -> list[int]:
    """PIDs of every live descendant of ``pid`` (read from ``/proc``; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for name in entries:
        if name.isdigit():
            parent = _parent_of(int(name))
            if parent is not None:
                children.setdefault(parent, []).append(int(name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree(pid: int, marker: bytes | None = None) -> None:
    """SIGKILL every descendant of ``pid`` until none is left, then ``pid`` and its process
    group, and every process whose environment holds ``marker``.

    ``pid`` is the sandbox's supervisor, a child subreaper: while it lives, the orphans of
    killed processes come back under it, so the sweeps find what a fork races to start.
    """
    for _ in range(100):
        family = descendants(pid)
        if not family:
            break
        for target in family:
            _quietly(os.kill, target, signal.SIGKILL)
    _quietly(os.killpg, pid, signal.SIGKILL)
    _quietly(os.kill, pid, signal.SIGKILL)
    for target in marked(marker) if marker else []:
        _quietly(os.kill, target, signal.SIGKILL)


def marked(marker: bytes) -> list[int]:
    """PIDs of this user's processes whose environment contains ``marker``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/environ", "rb") as handle:
                    if marker in handle.read():
                        found.append(int(name))
            except OSError:
                continue
    return found


def tree_memory_mib(pid: int) -> float:
    """Memory of ``pid`` and all its descendants in MiB: the sum of their proportional set
    sizes (pages shared by forked children counted once), or resident sizes where the
    kernel does not show a process's PSS to this user."""
    return sum(proportional_kib(p) for p in [pid, *descendants(pid)]) / 1024


def tree_cpu_seconds(pid: int) -> float:
    """CPU-seconds of ``pid`` and its live descendants, their threads, and the children they
    have reaped (``utime + stime + cutime + cstime`` from ``/proc/PID/stat``)."""
    return cpu_seconds([pid, *descendants(pid)])


def cpu_seconds(pids) -> float:
    """CPU-seconds of the live processes ``pids``, as :func:`tree_cpu_seconds` counts them."""
    ticks = 0
    for member in pids:
        try:
            with open(f"/proc/{member}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            ticks += sum(int(value) for value in fields[11:15])
        except (OSError, ValueError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def proportional_kib(pid: int) -> int:
    """PSS of ``pid`` in KiB from ``/proc/PID/smaps_rollup``; its RSS when that is unreadable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resident_kib(pid)


def folder_usage(folder, max_files: int) -> tuple[int, int]:
    """Bytes and number of files under ``folder`` (counting stops at ``max_files``)."""
    size = files = 0
    stack = [str(folder)]
    while stack and files < max_files:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            files += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    size += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return size, files


def resident_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (0 when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, IndexError, ValueError):
        return 0


def busy(pid: int) -> bool:
    """Whether ``pid`` is running or waiting to run (``R``), or in an uninterruptible wait
    (``D``: faulting pages in, writing): at work, not resting or gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"R", b"D")


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: fields resume after the last ')'
    return int(stat[stat.rindex(b")") + 2 :].split()[1])


def _quietly(action, *args) -> None:
    try:
        action(*args)
    except (ProcessLookupError, PermissionError):
        pass
