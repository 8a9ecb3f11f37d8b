"""A cgroup per sandbox, where this process may make one: the kernel counts, caps and kills.

A *leaf* is one sandbox's cgroup. Every process of the sandbox is born in it (its first
process moves itself there before it forks anything: :func:`Leaf.entry_files`), so the
kernel, not a poll:

- ``kill``: ends every process of the sandbox at once, however it forked;
- ``memory``: caps the memory of the whole tree, *including* what no process maps — tmpfs
  and shared memory, page cache, anonymous files — and the kernel's OOM killer acts inside
  the leaf only (``memory.max``, or ``memory.limit_in_bytes`` on cgroup v1);
- ``pids``: caps the tasks (processes and threads) of the tree (``pids.max``);
- ``cpu``: gives every sandbox the same CPU weight, so a neighbour that starts a dozen busy
  processes gets one share, not a dozen; and counts the CPU time the tree received, to the
  nanosecond, also of processes that already exited (``cpu.stat``, ``cpuacct.usage``).

Both layouts are handled: cgroup v2 (one hierarchy; its controllers must be enabled for this
process's cgroup, as systemd's ``Delegate=yes`` or a container's own cgroup namespace does)
and cgroup v1 (a hierarchy per controller, as on this project's machines: Debian with the
hybrid layout). The leaves are made under this process's own cgroup of each hierarchy,
where it may write: root on most machines and in containers, or a delegated user. Elsewhere
this layer is absent, and the watchdog and the syscall allowlist bound what it would
(README, *Isolation*).
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

CONTROLS = ("memory", "pids", "cpu")  # the v2 controllers a leaf needs enabled
LEGACY = {"memory", "pids", "cpu", "cpuacct"}  # the v1 hierarchies a leaf is made in
MEMORY_FILES = {2: "memory.max", 1: "memory.limit_in_bytes"}
SWAP_FILES = {2: "memory.swap.max", 1: "memory.memsw.limit_in_bytes"}


@dataclass(frozen=True)
class Hierarchy:
    """A mounted cgroup hierarchy and this process's folder in it: ``version`` 2 (every
    controller in one) or 1 (the ``controllers`` of that mount)."""

    version: int
    controllers: frozenset[str]
    folder: Path


@dataclass(frozen=True)
class Leaf:
    """One sandbox's cgroup: a folder in each hierarchy used, and what it enforces."""

    folders: tuple[Path, ...]
    versions: tuple[int, ...]
    controls: frozenset[str]

    def entry_files(self) -> list[str]:
        """The files (one per hierarchy) a single-threaded process writes ``0`` to, to move
        itself into the leaf: v1's ``tasks``, where a thread that moves itself takes no
        global lock (0.1 ms, against 5-17 ms for a pid written to ``cgroup.procs``, which
        waits for an RCU grace period), and v2's ``cgroup.procs``."""
        return [str(folder / ("tasks" if version == 1 else "cgroup.procs"))
                for folder, version in zip(self.folders, self.versions)]

    def members(self) -> list[int]:
        try:
            return [int(line) for line in (self.folders[0] / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill(self) -> None:
        """Kill every process in the leaf: ``cgroup.kill``, else each member, looking again
        until no member is left that was not sent SIGKILL (one forked meanwhile is seen at
        the next look; ``pids.max`` bounds how many there can be). It does not wait for them
        to exit (:meth:`remove` does)."""
        if 2 in self.versions and _write(self.folders[self.versions.index(2)] / "cgroup.kill", "1"):
            return
        signalled: set[int] = set()
        for _ in range(100):
            pids = set(self.members()) - signalled
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            signalled |= pids

    def cpu_seconds(self) -> float | None:
        """CPU time the leaf's processes received since it was made (``None``: not counted)."""
        for folder, version in zip(self.folders, self.versions):
            value = _cpu_seconds(folder, version)
            if value is not None:
                return value
        return None

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended inside the leaf so far."""
        if "memory" not in self.controls:
            return 0
        return _counter(self.events, "oom_kill")

    @functools.cached_property
    def events(self) -> Path:
        """The memory controller's file that counts OOM kills (read at every look)."""
        for folder, version in zip(self.folders, self.versions):
            events = folder / ("memory.events" if version == 2 else "memory.oom_control")
            if events.exists():
                return events
        return self.folders[0] / "memory.events"

    def out_of_memory(self) -> bool:
        """Whether the kernel's OOM killer acted inside the leaf."""
        return self.oom_kills() > 0

    def remove(self) -> bool:
        """Kill what is left and remove the folders, once every process in them has exited
        (up to a second); whether all of them are gone."""
        self.kill()
        ends = time.monotonic() + 1.0
        for folder in self.folders:
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # busy: a process killed a moment ago has not exited yet
                    if time.monotonic() > ends:
                        return False
                    self.kill()
                    time.sleep(0.0002)
        return True


def create(memory_mb: int, max_tasks: int) -> Leaf | None:
    """A fresh leaf capping memory at ``memory_mb`` MiB and tasks at ``max_tasks`` where its
    controllers allow; ``None`` where this process can make no cgroup."""
    found = usable()
    if not found:
        return None
    name = f"grader-sandbox-{os.getpid()}-{secrets.token_hex(4)}"
    folders, versions, controls = [], [], set()
    for hierarchy in found:
        folder = hierarchy.folder / name
        try:
            folder.mkdir()
        except OSError:
            continue
        folders.append(folder)
        versions.append(hierarchy.version)
        controls |= _limit(folder, hierarchy, memory_mb, max_tasks)
    if not folders:
        return None
    return Leaf(tuple(folders), tuple(versions), frozenset(controls))


def _limit(folder: Path, hierarchy: Hierarchy, memory_mb: int, max_tasks: int) -> set[str]:
    """Write the leaf's limits; return the controls that hold."""
    held = set()
    version = hierarchy.version
    if "memory" in hierarchy.controllers and _write(folder / MEMORY_FILES[version], str(memory_mb << 20)):
        _write(folder / SWAP_FILES[version], "0" if version == 2 else str(memory_mb << 20))
        if version == 2:
            _write(folder / "memory.oom.group", "1")  # an OOM kill ends the whole sandbox
        held.add("memory")
    if "pids" in hierarchy.controllers and _write(folder / "pids.max", str(max_tasks)):
        held.add("pids")
    if "cpu" in hierarchy.controllers:
        held.add("cpu")  # the default weight, the same for every sandbox
    if _cpu_seconds(folder, version) is not None:
        held.add("cpu-time")
    return held


@functools.cache
def usable() -> tuple[Hierarchy, ...]:
    """The hierarchies this process may make leaves in: a v2 one, or the v1 ones of the
    memory, pids and CPU controllers (probed once per process)."""
    found = [h for h in _hierarchies() if _writable(h.folder)]
    unified = [h for h in found if h.version == 2]
    legacy = [h for h in found if h.version == 1 and h.controllers & LEGACY]
    if unified and (unified[0].controllers or not legacy):
        return tuple(unified)
    return tuple(sorted(legacy, key=lambda h: "pids" not in h.controllers)) or tuple(unified)


def why_absent() -> str:
    """One sentence: why no cgroup layer here."""
    if not _hierarchies():
        return "this process is in no cgroup hierarchy it can see (no /sys/fs/cgroup)"
    return "this process's cgroups are not writable by this user (not delegated)"


def _hierarchies() -> list[Hierarchy]:
    """Every cgroup hierarchy mounted here, with this process's folder in it."""
    try:
        membership = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in membership:
        number, _, rest = line.partition(":")
        names, _, relative = rest.partition(":")
        version = 2 if number == "0" else 1
        mount = _mount_of(mounts, version, set(names.split(",")) - {""})
        if mount is None:
            continue
        folder = Path(mount) / relative.lstrip("/")
        if (folder / "cgroup.procs").exists():
            found.append(Hierarchy(version, _controllers(folder, version, names), folder))
    return found


def _mount_of(mounts: list[str], version: int, names: set[str]) -> str | None:
    """Where the hierarchy of ``names`` (v1) or the unified one (v2) is mounted."""
    for line in mounts:
        fields, _, tail = line.partition(" - ")
        kind, _, options = tail.split(" ", 2) if tail.count(" ") >= 2 else (tail, "", "")
        if version == 2 and kind == "cgroup2":
            return fields.split()[4]
        if version == 1 and kind == "cgroup" and names and names <= set(options.split(",")):
            return fields.split()[4]
    return None


def _controllers(folder: Path, version: int, names: str) -> frozenset[str]:
    """The controllers a leaf under ``folder`` gets: v1, the mount's; v2, those enabled for
    the folder's children (enabled here first where that is allowed)."""
    if version == 1:
        return frozenset(names.split(","))
    control = folder / "cgroup.subtree_control"
    wanted = set(_read(folder / "cgroup.controllers").split()) & set(CONTROLS)
    missing = wanted - set(_read(control).split())
    if missing:
        _write(control, " ".join(f"+{name}" for name in sorted(missing)))
    return frozenset(set(_read(control).split()) & set(CONTROLS))


def _writable(folder: Path) -> bool:
    probe = folder / f"grader-probe-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


def _cpu_seconds(folder: Path, version: int) -> float | None:
    if version == 2:
        usec = _counter(folder / "cpu.stat", "usage_usec", missing=-1)
        return usec / 1e6 if usec >= 0 else None
    text = _read(folder / "cpuacct.usage").strip()
    return int(text) / 1e9 if text.isdigit() else None


def _counter(path: Path, name: str, missing: int = 0) -> int:
    """The value of the line ``name N`` of a cgroup file (``missing`` where it has none)."""
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value)
    return missing


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text)
        return True
    except OSError:
        return False
