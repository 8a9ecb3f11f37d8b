"""A cgroup v2 folder per sandbox, where this process may create one: kill all, cap memory.

Where the grader's own cgroup (v2) is writable to it — root on most machines and in
containers with their own cgroup namespace, or a user's delegated systemd scope — every
sandbox gets a child folder that its supervisor joins before it starts the worker. Writing
``1`` to ``cgroup.kill`` then ends every process of the sandbox at once, however it forked,
and where the memory and pids controllers are enabled for the folder, ``memory.max`` and
``pids.max`` bound the whole tree. Elsewhere (cgroup v1, no write access) this layer is
simply absent; the subreaper and the parent's watchdog still hold.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from pathlib import Path


@functools.cache
def parent() -> Path | None:
    """This process's cgroup v2 folder, if it can make sandbox folders there; else ``None``."""
    folder = _own_cgroup()
    if folder is None:
        return None
    try:
        probe = folder / f"grader-probe-{os.getpid()}-{secrets.token_hex(3)}"
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return None
    return folder


def why_absent() -> str:
    """One sentence: why no cgroup layer here."""
    folder = _own_cgroup()
    if folder is None:
        return "this process is not in a cgroup v2 hierarchy (cgroup v1 or no /sys/fs/cgroup)"
    return f"its cgroup {folder} is not writable by this user (not delegated)"


def create(memory_mb: int, max_tasks: int) -> Path | None:
    """A fresh sandbox folder with the limits its controllers allow; ``None`` without cgroups."""
    base = parent()
    if base is None:
        return None
    folder = base / f"grader-sandbox-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        folder.mkdir()
    except OSError:
        return None
    controllers = (folder / "cgroup.controllers").read_text().split()
    if "memory" in controllers:
        _write(folder / "memory.max", str(memory_mb << 20))
        _write(folder / "memory.swap.max", "0")
    if "pids" in controllers:
        _write(folder / "pids.max", str(max_tasks))
    return folder


def kill(folder: Path) -> None:
    """Kill every process in ``folder`` (``cgroup.kill``, or one by one on kernels before 5.14)."""
    if _write(folder / "cgroup.kill", "1"):
        return
    for _ in range(100):
        pids = members(folder)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass


def members(folder: Path) -> list[int]:
    try:
        return [int(line) for line in (folder / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def out_of_memory(folder: Path) -> bool:
    """Whether the kernel's OOM killer acted inside ``folder`` (memory.events ``oom_kill``)."""
    try:
        for line in (folder / "memory.events").read_text().splitlines():
            name, _, count = line.partition(" ")
            if name == "oom_kill" and int(count) > 0:
                return True
    except (OSError, ValueError):
        pass
    return False


def remove(folder: Path) -> None:
    """Kill what is left and remove the folder (waiting briefly for the kernel to empty it)."""
    kill(folder)
    for _ in range(50):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def _own_cgroup() -> Path | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    relative = next((line[3:] for line in lines if line.startswith("0::")), None)
    mount = next((m.split()[4] for m in mounts if " - cgroup2 " in m), None)
    if relative is None or mount is None:
        return None
    folder = Path(mount) / relative.lstrip("/")
    return folder if (folder / "cgroup.procs").exists() else None


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text)
        return True
    except OSError:
        return False
