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
    """SIGKILL ``pid``, its process group, every descendant, and every process whose
    environment holds ``marker`` (which finds daemons that double-forked away from the tree)."""
    family = descendants(pid) + (marked(marker) if marker else [])
    for target in family:
        _quietly(os.kill, target, signal.SIGKILL)
    _quietly(os.killpg, pid, signal.SIGKILL)
    _quietly(os.kill, pid, signal.SIGKILL)


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
