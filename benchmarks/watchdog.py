"""How much memory a sandbox can take past its limit before it is stopped, with and without a
cgroup.

Without a cgroup, memory is watched: the parent sums the tree's proportional set size every
``WATCH_S`` (0.25 s) while a request runs, and each process is held to ``RLIMIT_AS`` and the
tree to ``RLIMIT_NPROC`` tasks (memory no poll sees — shared memory, anonymous files, System V
segments — is refused by the syscall allowlist). The worst case is then about *poll interval
× allocation rate × processes*, bounded by ``RLIMIT_NPROC × RLIMIT_AS``. With a cgroup the
kernel caps the tree at the limit plus its RAM folders and the supervisor.

This measures it: a submission forks ``--processes`` children that each touch memory as fast
as they can, up to just under ``RLIMIT_AS``; a sampler thread reads the tree's resident memory
(proportional set size: shared pages counted once, as the kernel charges them) as often as it
can; the table gives the highest it saw, the limit, the overshoot and the outcome.
Run: ``python benchmarks/watchdog.py [--processes 4 16 64] [--limit-mb 512]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from grader.sandbox import SandboxSession, cgroup, isolation, mounts

GREEDY = '''
import os, time
import numpy as np

def greedy(processes, each_mb):
    for _ in range(int(processes)):
        if os.fork() == 0:
            try:
                block = np.empty(int(each_mb) << 20, dtype=np.uint8)
                for start in range(0, block.size, 1 << 20):
                    block[start:start + (1 << 20)] = 1
                time.sleep(30)
            finally:
                os._exit(0)
    time.sleep(30)
    return 1
'''
MODES = [("no cgroup (watched)", {isolation.NO_BWRAP_ENV: "1", isolation.DISABLE_ENV: "cgroup"}),
         ("cgroup (kernel)", {isolation.NO_BWRAP_ENV: "1"})]


class Counting:
    """A memory cgroup around this process that limits nothing: the kernel's peak of
    everything in it, this process and every sandbox it starts without a cgroup of its own
    (a sandbox's own leaf is made below it, so it counts there too)."""

    def __init__(self) -> None:
        memory = [h for h in cgroup.usable() if "memory" in h.controllers]
        if not memory:
            raise SystemExit("this benchmark needs a writable memory cgroup (root)")
        self.version = memory[0].version
        self.folder = memory[0].folder / f"watchdog-bench-{os.getpid()}"
        self.folder.mkdir()
        (self.folder / "cgroup.procs").write_text(str(os.getpid()))
        cgroup.usable.cache_clear()  # sandbox leaves are made below this process's cgroup

    def _file(self, v1: str, v2: str) -> Path:
        return self.folder / (v1 if self.version == 1 else v2)

    def usage_mib(self) -> float:
        return int(self._file("memory.usage_in_bytes", "memory.current").read_text()) / 2**20

    def reset_peak(self) -> None:
        self._file("memory.max_usage_in_bytes", "memory.peak").write_text("0")

    def peak_mib(self) -> float:
        return int(self._file("memory.max_usage_in_bytes", "memory.peak").read_text()) / 2**20


def measure(folder: Path, processes: int, limit_mb: int, counting: Counting) -> tuple[float, str, float]:
    """(the sandbox's peak MiB, outcome, seconds until the outcome)."""
    each = max(16, limit_mb - 200)  # just under RLIMIT_AS with the interpreter's own mappings
    with SandboxSession(folder, limits=mounts.Limits(memory_mb=limit_mb)) as session:
        session.call("student_code", "greedy", [0, 0], 60)  # started and imported
        before = counting.usage_mib()
        counting.reset_peak()
        started = time.perf_counter()
        outcome = session.call("student_code", "greedy", [processes, each], 20)
        seconds = time.perf_counter() - started
        peak = counting.peak_mib() - before
    return peak, outcome.status, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--limit-mb", type=int, default=512)
    args = parser.parse_args()
    counting = Counting()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "student_code.py").write_text(GREEDY)
        print("| layers | processes | limit (MiB) | sandbox's peak (MiB) | over the limit (MiB) | "
              "outcome | seconds |\n|---|---|---|---|---|---|---|")
        for name, env in MODES:
            os.environ.update(env)
            for key in (isolation.DISABLE_ENV,):
                if key not in env:
                    os.environ.pop(key, None)
            isolation.available.cache_clear()
            for count in args.processes:
                peak, status, seconds = measure(Path(folder), count, args.limit_mb, counting)
                print(f"| {name} | {count} | {args.limit_mb} | {peak:.0f} | "
                      f"{max(0.0, peak - args.limit_mb):.0f} | {status} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
