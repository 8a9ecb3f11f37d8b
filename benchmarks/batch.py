"""Batch throughput and memory: grade a generated batch of proj1 submissions several ways.

Prints a Markdown table: submissions per second with 1 and 2 local workers, with a
Dask LocalCluster of 2 workers (started by the grader) and with a running Dask cluster
of 2 workers (started before the timing), and the grader's peak RSS (main process)
at 50 and 200 submissions: the median of ``--repeat`` runs of each, interleaved, and each
one's rate against the local pool of 2 workers. Submissions are copies of the bundled correct and
incomplete examples, each made distinct by a comment (so nothing is reused from
the gradebook). Course-data checks are skipped (``GRADER_DATA`` points nowhere)
so the run needs no data. Run: ``python benchmarks/batch.py [--counts 50 200] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = [REPO / "assignments/proj1_filtering/examples/alice_correct/student_code.py",
           REPO / "assignments/proj1_filtering/examples/carol_incomplete/student_code.py"]
RUN = ("import resource, sys\n"
       "from grader.cli import main\n"
       "sys.argv = ['grader'] + sys.argv[1:]\n"
       "try:\n    main()\n"
       "finally:\n"
       "    print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")


def make_batch(folder: Path, count: int) -> Path:
    for index in range(count):
        student = folder / f"student{index:03d}"
        student.mkdir(parents=True)
        code = SOURCES[index % len(SOURCES)].read_text()
        (student / "student_code.py").write_text(f"# variant {index}\n{code}")
    return folder


def grade(batch: Path, db: Path, *flags: str) -> tuple[float, int]:
    env = {**os.environ, "GRADER_DATA": str(db.parent / "no-data")}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RUN, "grade", "proj1_filtering", str(batch),
                           "--db", str(db), "--quiet", *flags],
                          capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    peak = int(proc.stderr.split("PEAK_RSS_KB")[1].split()[0])
    return seconds, peak


RUNNING = "<running cluster>"


def dask_environment(settings: dict) -> dict[str, str]:
    """Dask ``settings`` as the environment variables ``dask scheduler``/``dask worker`` read
    (``distributed.admin.tick.interval`` -> ``DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL``)."""
    return {"DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
            for key, value in settings.items()}


@contextlib.contextmanager
def running_cluster(folder: Path, workers: int):
    """A Dask scheduler and ``workers`` single-threaded workers, started (and warmed by one
    task each) before any timing, as on a cluster that serves a whole semester."""
    from distributed import Client

    from grader.batch.executors import QUIET

    address_file = folder / "scheduler.json"
    env = {**os.environ, "GRADER_DATA": str(folder / "no-data"), **dask_environment(QUIET)}
    processes = [subprocess.Popen(["dask", "scheduler", "--scheduler-file", str(address_file),
                                   "--no-dashboard"], env=env, stderr=subprocess.DEVNULL)]
    try:
        while not address_file.exists():
            time.sleep(0.2)
        processes.append(subprocess.Popen(
            ["dask", "worker", "--scheduler-file", str(address_file), "--nworkers", str(workers),
             "--nthreads", "1", "--no-dashboard"], env=env, cwd=REPO, stderr=subprocess.DEVNULL))
        with Client(scheduler_file=str(address_file)) as client:
            client.wait_for_workers(workers)
            client.run(lambda: __import__("grader.grading"))
            yield client.scheduler.address
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each configuration, interleaved; the table shows medians")
    args = parser.parse_args()
    configs = [("local, 1 worker", ["--workers", "1"]), ("local, 2 workers", ["--workers", "2"]),
               ("Dask LocalCluster, 2 workers", ["--cluster", "local", "--workers", "2"]),
               ("Dask, running cluster, 2 workers", ["--cluster", RUNNING, "--workers", "2"])]
    print(f"| submissions | executor | seconds (median of {args.repeat}) | fastest-slowest | "
          "submissions/s | rate / local 2 workers | grader peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch, running_cluster(Path(scratch), 2) as address:
        for count in args.counts:
            batch = make_batch(Path(scratch) / f"batch{count}", count)
            runs: dict[str, list[tuple[float, int]]] = {name: [] for name, _ in configs}
            for repeat in range(args.repeat):  # interleaved, so that drift hits every executor
                for number, (name, flags) in enumerate(configs):
                    db = Path(scratch) / f"{count}-{number}-{repeat}.sqlite"
                    flags = [address if flag == RUNNING else flag for flag in flags]
                    runs[name].append(grade(batch, db, *flags))
            pool_s = statistics.median(seconds for seconds, _ in runs["local, 2 workers"])
            for name, measured in runs.items():
                seconds = statistics.median(s for s, _ in measured)
                peak = statistics.median(p for _, p in measured)
                print(f"| {count} | {name} | {seconds:.1f} | {min(measured)[0]:.1f}-"
                      f"{max(measured)[0]:.1f} | {count / seconds:.2f} | {pool_s / seconds:.2f} | "
                      f"{peak / 1024:.0f} |", flush=True)


if __name__ == "__main__":
    main()
