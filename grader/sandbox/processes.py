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


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``, its process group and every descendant found before the kill."""
    family = descendants(pid)
    for target in family:
        _quietly(os.kill, target, signal.SIGKILL)
    _quietly(os.killpg, pid, signal.SIGKILL)
    _quietly(os.kill, pid, signal.SIGKILL)


def resident_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (0 when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, IndexError, ValueError):
        return 0


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
