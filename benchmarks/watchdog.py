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
every 5 ms; the table gives the highest it saw, the limit, the overshoot and the outcome.
Run: ``python benchmarks/watchdog.py [--processes 1 4 16] [--limit-mb 512]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from grader.sandbox import SandboxSession, isolation, launcher
from grader.sandbox.processes import descendants, resident_kib

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


def peak_of(session: SandboxSession, stop: threading.Event, found: list[float]) -> None:
    """Sample the sandbox tree's resident memory (MiB) every 5 ms until ``stop``."""
    while not stop.is_set():
        proc = session._proc
        if proc is not None:
            tree = [proc.pid, *descendants(proc.pid)]
            found.append(sum(resident_kib(pid) for pid in tree) / 1024)
        time.sleep(0.005)


def measure(folder: Path, processes: int, limit_mb: int) -> tuple[float, str, float]:
    """(peak MiB seen, outcome, seconds until the outcome)."""
    each = max(16, limit_mb - 200)  # just under RLIMIT_AS with the interpreter's own mappings
    with SandboxSession(folder, limits=launcher.Limits(memory_mb=limit_mb)) as session:
        session.call("student_code", "greedy", [0, 0], 60)  # started and imported
        stop, samples = threading.Event(), [0.0]
        sampler = threading.Thread(target=peak_of, args=(session, stop, samples))
        sampler.start()
        started = time.perf_counter()
        outcome = session.call("student_code", "greedy", [processes, each], 20)
        seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
    return max(samples), outcome.status, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--limit-mb", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "student_code.py").write_text(GREEDY)
        print(f"| layers | processes | limit (MiB) | peak seen (MiB) | over the limit (MiB) | "
              f"outcome | seconds |\n|---|---|---|---|---|---|---|")
        for name, env in MODES:
            os.environ.update(env)
            for key in (isolation.DISABLE_ENV,):
                if key not in env:
                    os.environ.pop(key, None)
            isolation.available.cache_clear()
            for count in args.processes:
                peak, status, seconds = measure(Path(folder), count, args.limit_mb)
                print(f"| {name} | {count} | {args.limit_mb} | {peak:.0f} | "
                      f"{max(0.0, peak - args.limit_mb):.0f} | {status} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
