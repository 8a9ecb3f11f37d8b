"""The processes of one running sandbox, measured from outside: what they hold and use.

The watchdog of :class:`~grader.sandbox.session.SandboxSession` while it waits for a reply:
the memory of the whole tree, the kernel's OOM kills in the sandbox's cgroup leaf, the scratch
folder's size where no tmpfs caps it, the CPU time of a request with a CPU budget, and the
processes an earlier call left running (which count against the next one).
"""

from __future__ import annotations

import time
from pathlib import Path

from grader.sandbox import cgroup, cpu
from grader.sandbox.mounts import Limits
from grader.sandbox.processes import (busy, cpu_seconds, descendants, folder_usage,
                                      tree_cpu_seconds, tree_memory_mib)

MAX_SCRATCH_FILES = 10_000
SETTLE_S = 0.05  # how often a reply's leftover children are looked at
SUPERVISOR_MB = 64  # the supervisor's interpreter, in the cgroup beside the student's tree


class OverMemory(Exception):
    """The sandbox holds more than it may (memory, or its scratch folder): one sentence."""


def kernel_memory_mb(limits: Limits) -> int:
    """The cgroup's hard memory cap (MiB): the rubric's limit (which the watchdog enforces as a
    ``memory`` result) plus the sandbox's RAM-backed folders and the supervisor; what no poll
    sees (shared memory, tmpfs, page cache, forks between two polls) stops here."""
    return limits.memory_mb + limits.scratch_mb + 2 * limits.tmp_mb + SUPERVISOR_MB


def leaf_holds_all(layers: tuple[str, ...]) -> bool:
    """Whether every process of a sandbox with ``layers`` is in its cgroup leaf: its first
    process was born there, and none can write a cgroup file to leave (bubblewrap mounts them
    read-only, Landlock grants none, a uid of its own does not own them)."""
    return "cgroup" in layers and bool({"bubblewrap", "landlock-filesystem", "uid"} & set(layers))


class SandboxTree:
    """The processes of the sandbox whose supervisor is ``pid``, in the cgroup ``leaf`` (if
    any); ``scratch`` is its scratch folder where the grader must measure it (no tmpfs)."""

    def __init__(self, pid: int, leaf: cgroup.Leaf | None, limits: Limits,
                 scratch: Path | None) -> None:
        self.pid, self.leaf, self.limits, self.scratch = pid, leaf, limits, scratch
        self.layers: tuple[str, ...] = ()
        self.running: set[int] = set()  # its processes after its last reply
        self.started_with = 0  # how many it had when its worker said ready
        self.ooms_seen = 0  # the kernel's OOM kills in its leaf, as of its last reply

    def ready(self, layers: tuple[str, ...]) -> None:
        """The worker said ready, enforcing ``layers``: what runs now is its baseline."""
        self.layers = layers
        self.running, self.ooms_seen = set(self.processes()), 0
        self.started_with = len(self.running)

    def processes(self) -> list[int]:
        """Every process of the sandbox: its cgroup's members, else its supervisor's tree."""
        if self.leaf is not None and "cgroup" in self.layers:
            return self.leaf.members()
        return [self.pid, *descendants(self.pid)]

    def ooms(self) -> int:
        """Processes of the tree the kernel killed for memory (0 without a cgroup)."""
        return self.leaf.oom_kills() if self.leaf is not None else 0

    def memory_error(self) -> str:
        """The sentence for a process the kernel killed for memory."""
        return (f"the kernel stopped it: its processes used more than the "
                f"{kernel_memory_mb(self.limits)} MiB its cgroup allows (the "
                f"{self.limits.memory_mb} MiB limit, its folders in RAM and the supervisor; "
                "shared memory and files in RAM count too)")

    def cpu_meter(self, timeout_s: float, cpu_limit_s: float | None) -> cpu.CpuMeter:
        """The CPU-seconds of the sandbox for a request: its cgroup's exact count (exited
        processes included), else the sum over its live process tree from /proc, starting
        from the processes its last reply left (no sweep of /proc before every request)."""
        leaf, pid = self.leaf, self.pid
        if leaf is not None and "cgroup-cpu-time" in self.layers:
            return cpu.CpuMeter(lambda: leaf.cpu_seconds() or 0.0, timeout_s, cpu_limit_s)
        return cpu.CpuMeter(lambda: tree_cpu_seconds(pid), timeout_s, cpu_limit_s,
                            start=cpu_seconds(self.running))

    def measure(self, meter: cpu.CpuMeter | None) -> None:
        """The grader's own measurements: memory of the whole tree, the kernel's OOM kills, the
        scratch folder's size, and the CPU time of a request with a CPU limit (``meter``).

        Raises
        ------
        OverMemory, cpu.OverCpu
            With the sentence the outcome carries.
        """
        if meter is not None:
            meter.check()
        used = tree_memory_mib(self.pid)
        if used > self.limits.memory_mb:
            raise OverMemory(f"the process tree used {used:.0f} MiB of memory, more than the "
                             f"{self.limits.memory_mb} MiB allowed")
        if self.ooms():
            raise OverMemory(self.memory_error())
        if self.scratch is not None:
            size, files = folder_usage(self.scratch, MAX_SCRATCH_FILES)
            if size > self.limits.scratch_mb << 20 or files >= MAX_SCRATCH_FILES:
                raise OverMemory(f"wrote more than {self.limits.scratch_mb} MiB or "
                                 f"{MAX_SCRATCH_FILES} files to its scratch folder")

    def check_leftovers(self) -> None:
        """Before a request: what processes left by earlier calls did meanwhile counts against
        this one (the kernel killed one for memory, or they hold more than the limit now)."""
        if self.ooms() > self.ooms_seen:
            raise OverMemory(self.memory_error() + ", in processes an earlier call left running")
        if len(self.running) > self.started_with:
            self.measure(None)

    def settle(self, cap: float, meter: cpu.CpuMeter | None) -> None:
        """After a reply, while processes the request started are still at work (children
        that outlive the call, on a machine too busy for them to finish in time), go on
        watching them until they rest or end: what they take counts against the call, and one
        still at work at ``cap`` (a ``perf_counter`` time) makes it a timeout. Honest calls
        leave nothing new running and pass straight through (one look); a sleeping daemon
        costs one more measurement."""
        now = set(self.processes())
        while any(busy(pid) for pid in now - self.running):
            if time.perf_counter() > cap:
                raise cpu.OverCpu("processes it started were still running long after it returned")
            self.measure(meter)
            time.sleep(SETTLE_S)
            now = set(self.processes())
        if now - self.running:
            self.measure(meter)  # what the ones left behind hold now, once
        self.running, self.ooms_seen = now, self.ooms()
