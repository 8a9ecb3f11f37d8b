"""Where "grade one submission" tasks run: inline, a local process pool, or a Dask cluster.

A task is plain data (:class:`Task`) and its result a plain dict, so the
same task runs in this process, in a ``ProcessPoolExecutor`` worker or on a
Dask worker on another machine. Each task still runs the student's code in its
own sandboxed worker process; these executors only parallelise the trusted
side. Results stream back in completion order, at most ``2 × workers`` tasks
in flight, so a batch of hundreds never holds hundreds of extracted
submissions at once.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import functools
import importlib.util
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from grader import context
from grader.context import RunContext
from grader.errors import GraderError
from grader.pids import alive
from grader.intake.submission import Submission


@dataclass(frozen=True)
class Task:
    """One submission to grade and everything the process that grades it needs: plain data,
    the same in this process, in a pool worker or on a Dask worker on another machine.

    ``rubric_hash`` is the hash of the rubric the batch prepared: a worker that reads another
    from ``rubric_file`` (edited during the batch) refuses the task rather than grade it with
    a rubric the gradebook would not name. ``threads`` is the CPU threads the student's worker
    may use (the cores shared among the parallel workers).
    """

    submission: Submission
    rubric_file: str = ""
    rubric_hash: str = ""
    data_dir: str | None = None
    threads: int | None = None
    needs_gpu: bool = False
    stored_calls_db: str | None = None  # re-scoring: the gradebook holding the stored outcomes

    @property
    def student(self) -> str:
        return self.submission.student

    @property
    def content_hash(self) -> str:
        return self.submission.content_hash

    @property
    def root(self) -> str:
        return str(self.submission.root)


def run_task(task: Task) -> dict[str, Any]:
    """Grade ``task`` (in whatever process runs it) and return the result as a dict."""
    from grader import grading
    from grader.batch import allocator

    allocator.restore_thresholds()  # a Dask worker's nanny fixed them at 64 KiB (allocator.py)
    with task_context(task):
        rubric, rubric_hash, prepared = _prepared(task.rubric_file)
        same_rubric(task, rubric_hash)
        stored = None
        if task.stored_calls_db:
            from grader.store.gradebook import read_stored_calls
            from grader.sandbox.memo import decode_stored

            stored = decode_stored(read_stored_calls(Path(task.stored_calls_db), task.content_hash))
        return grading.grade(task.submission, rubric, rubric_hash, prepared,
                             stored=stored).to_dict(include_artifacts=True)


def task_context(task: Task) -> contextlib.AbstractContextManager[RunContext]:
    """The course data folder and the thread share the task names, for the task's length and
    in its own thread only (read by :mod:`grader.datapath` and the sandbox's launcher; a Dask
    worker grades other tasks in other threads meanwhile, and other batches' afterwards)."""
    return context.running(RunContext(task.data_dir, task.threads))


def same_rubric(task: Task, rubric_hash: str) -> None:
    """Refuse a task whose rubric file no longer hashes to what the batch prepared."""
    if task.rubric_hash and rubric_hash != task.rubric_hash:
        raise GraderError(f"{task.rubric_file} changed during the batch (it hashes to "
                          f"{rubric_hash}, the batch prepared {task.rubric_hash}): grade again")


@functools.lru_cache(maxsize=4)
def _prepared(rubric_file: str):
    """Rubric and prepared cases, once per process (expected outputs come from the disk cache)."""
    from grader.prepare.expected import prepare
    from grader.rubric.load import load_rubric

    rubric, rubric_hash = load_rubric(Path(rubric_file))
    return rubric, rubric_hash, prepare(rubric, rubric_hash)


Outcome = tuple[Task, dict[str, Any] | BaseException]


class InlineExecutor:
    """Runs tasks one after another in this process (``--workers 1``)."""

    workers = 1

    def stream(self, tasks: Iterable[Task], function: Callable = run_task) -> Iterator[Outcome]:
        for task in tasks:
            try:
                yield task, function(task)
            except Exception as exc:  # noqa: BLE001 - reported per submission, batch goes on
                yield task, exc

    def close(self) -> None:
        pass


class PoolExecutor:
    """A local pool of ``workers`` processes; a crashed pool is replaced and the batch goes on."""

    def __init__(self, workers: int):
        self.workers = workers
        self._context = multiprocessing.get_context("forkserver")
        self._pool = self._new_pool()
        self._broken_pool: cf.ProcessPoolExecutor | None = None  # a pool one of whose workers died

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.workers, mp_context=self._context,
                                      initializer=die_with, initargs=(os.getpid(),))

    def stream(self, tasks: Iterable[Task], function: Callable = run_task) -> Iterator[Outcome]:
        return _stream(lambda task: self._submit(function, task), tasks, 2 * self.workers,
                       failed=self._failed)

    def _submit(self, function: Callable, task: Task) -> cf.Future:
        """Submit to a pool that is not broken: one whose worker died is replaced first (its
        breakage may not be known to it yet, but a future of it has already failed)."""
        if self._broken:
            self._renew()
        try:
            future = self._pool.submit(function, task)
        except cf.process.BrokenProcessPool:
            self._renew()
            future = self._pool.submit(function, task)
        future.grader_pool = self._pool  # type: ignore[attr-defined]  # which pool ran it
        return future

    @property
    def _broken(self) -> bool:
        return self._broken_pool is self._pool

    def _failed(self, future: cf.Future) -> None:
        """Told of each failed future before anything more is submitted."""
        if isinstance(future.exception(), cf.process.BrokenProcessPool):
            self._broken_pool = getattr(future, "grader_pool", None)

    def _renew(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def die_with(grader_pid: int) -> None:
    """Pool-worker initializer: end this worker as soon as the grader that started it is gone.

    Killed with SIGKILL, the grader runs no cleanup; its pool workers (children of the
    forkserver, which hold each other's queue pipes open, so no read ever ends) would wait
    forever, and the forkserver with them. A thread here waits on the grader's pidfd (or
    polls, before Linux 5.3) and exits the worker; the worker's sandboxes end with it (their
    supervisors see the control pipe close), and the forkserver once the last worker is gone.
    """
    try:
        handle = os.pidfd_open(grader_pid)
    except (AttributeError, OSError):
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])
        else:
            while alive(grader_pid):
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-grader", daemon=True).start()


class OwnCluster(Protocol):
    """A Dask cluster this process starts and closes (SLURM jobs: :mod:`grader.batch.slurm`)."""

    workers: int  # how many workers it will have

    def start(self, settings: dict[str, Any]) -> Any:
        """Start it, its workers to run with the Dask ``settings``; return it (its
        ``scheduler_address``, ``close()``) without waiting for them."""

    def wait(self, cluster: Any) -> None:
        """Return once a worker has connected (in the grader's thread: Ctrl-C ends the wait)."""


class DaskExecutor:
    """Tasks on a Dask ``distributed`` cluster: an existing scheduler, ``local``, or one of
    its ``own`` (SLURM jobs).

    Submissions are materialised into a folder the workers must be able to
    read (a shared filesystem on a real cluster). Tasks with GPU checks ask
    for one ``GPU`` worker resource (start such workers with
    ``dask worker ADDRESS --resources GPU=1``). The client connects, and a ``local``
    cluster starts (its workers forked from a forkserver that imports the harness once), in
    the background while the grader prepares the batch; the first task waits for it, and an
    unreachable scheduler is said there. Each result comes back as one pickled bytes object.
    """

    def __init__(self, address: str, workers: int, own: OwnCluster | None = None):
        if importlib.util.find_spec("distributed") is None:  # said now, not in the background
            raise GraderError("--cluster needs Dask: pip install -e '.[cluster]'")
        self._cluster: Any = None  # a cluster of this process (LocalCluster...), once started
        self._own = own
        self._client: Any = None  # distributed.Client
        self.workers = workers  # a running cluster's own count, once connected
        if address == "local":  # its workers' imports begin now, beside distributed's import
            _start_forkserver(LOCAL_WORKER_IMPORTS)
        # importing distributed (about 0.8 s) and connecting or starting a cluster happen in
        # the background while the batch is prepared; the first task waits for them
        starter = cf.ThreadPoolExecutor(1, thread_name_prefix="dask-start")
        start = self._start_own if own else (
            self._start_local if address == "local" else self._start_remote)
        self._starting: cf.Future | None = starter.submit(start, address, workers)
        starter.shutdown(wait=False)  # its one thread ends with the start

    def _start_remote(self, address: str, workers: int) -> None:
        import dask
        import distributed  # noqa: F401 - its defaults before QUIET: set() restores what it found

        with dask.config.set(QUIET):  # the client's own loop
            self._client = self._connect(address)
        self.workers = max(1, len(self._client.scheduler_info()["workers"]))

    def _start_local(self, address: str, workers: int) -> None:
        import dask
        from distributed import LocalCluster

        with dask.config.set({**QUIET, "distributed.worker.multiprocessing-method": "forkserver"}):
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, host="127.0.0.1")
            self._client = self._connect(self._cluster.scheduler_address)
        self._client.run(_warm_up)  # each worker imports the harness now, not at its first task

    def _start_own(self, address: str, workers: int) -> None:
        """The ``own`` cluster, its workers told to run with QUIET's settings."""
        import dask

        assert self._own is not None
        with dask.config.set(QUIET):  # its scheduler's and the client's
            self._cluster = self._own.start(QUIET)
            self._client = self._connect(self._cluster.scheduler_address)

    @staticmethod
    def _connect(address: str):
        from distributed import Client

        try:  # results come straight from the worker that made them, not through the scheduler
            return Client(address, timeout="30s", direct_to_workers=True)
        except OSError as exc:
            raise GraderError(f"--cluster {address}: cannot reach the Dask scheduler ({exc})") from None

    def _ready(self):
        if self._starting is not None:
            self._starting.result()  # the cluster's start-up error, if any, is raised here
            self._starting = None
            if self._own is not None:  # once only: close() does not wait again
                self._own.wait(self._cluster)
        return self._client

    def stream(self, tasks: Iterable[Task], function: Callable = run_task) -> Iterator[Outcome]:
        def submit(task: Task):
            resources = {"GPU": 1} if task.needs_gpu else None
            return self._ready().submit(_pickled, function, task, pure=False,
                                        resources=resources,
                                        key=f"grade-{task.student}-{task.content_hash}")

        def unpickled(outcomes: Iterator[tuple[Task, Any]]) -> Iterator[Outcome]:
            for task, outcome in outcomes:  # bytes from _pickled, or the task's exception
                yield task, outcome if isinstance(outcome, BaseException) else pickle.loads(outcome)

        self._ready()  # a running cluster's worker count sets how many tasks are in flight
        return unpickled(_stream(submit, tasks, 2 * self.workers, self._as_completed))

    def _as_completed(self, futures: Iterable) -> Iterator:
        from distributed import as_completed

        return iter(as_completed(list(futures), loop=self._client.loop))

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a failed start was raised by stream already
            self._ready()
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()


# Dask settings for grading (a local cluster's and the client's; README: the same for the
# workers of a standing cluster). Without a dashboard nothing reads the profiler's samples of
# every thread each 10 ms or the system monitor's, and tasks of one batch are alike, so work
# stealing has nothing to balance; the event-loop tick (20 ms) and the memory monitor (100 ms)
# only need to notice trouble. Together they took 0.15 CPU-seconds a second from an idle
# 2-worker cluster (0.02 with these), and on a machine the sandboxes keep busy every one of
# them is taken from the grading.
QUIET = {"distributed.worker.profile.enabled": False,
         "distributed.admin.system-monitor.interval": "5s",
         "distributed.admin.tick.interval": "1s",
         "distributed.worker.memory.monitor-interval": "1s",
         "distributed.scheduler.work-stealing": False}


# What a local cluster's workers import once, in the forkserver they are forked from, instead
# of each in an interpreter of its own (Dask's default, spawn). On this 2-core machine their
# imports then overlap with the grader's own import of distributed and with its preparation of
# the batch, and the cluster closes in 0.06 s instead of 0.58 s.
LOCAL_WORKER_IMPORTS = ("distributed", "grader.batch.executors", "grader.grading")


def _start_forkserver(imports: tuple[str, ...]) -> None:
    """Start this process's multiprocessing forkserver with ``imports`` preloaded, unless it
    runs already (a local pool started it: its children then import what they need).

    Started here, the server has the harness's imports before Dask asks for it, and Dask's own
    preload list (which would import pandas into it) comes too late to apply. The C allocator
    of its children was set up in the server, before the nanny puts ``MALLOC_TRIM_THRESHOLD_``
    into their environment (see :mod:`grader.batch.allocator`).
    """
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(imports))
    multiprocessing.forkserver.ensure_running()


def _pickled(function: Callable, task: Task) -> bytes:
    """``function(task)`` pickled, on a Dask worker: Dask then holds and sends one bytes object
    (sized by its length, sent as one frame) instead of walking the result, a dict of about
    2 MB of strings for proj1, to size it for its memory accounting and serialise it again
    for the client."""
    return pickle.dumps(function(task), protocol=pickle.HIGHEST_PROTOCOL)


def _warm_up() -> None:
    """Import what grading a task needs, in a cluster worker, before its first task."""
    from grader import grading  # noqa: F401


def make_executor(workers: int, cluster: str | None, slurm: OwnCluster | None = None):
    """The executor the CLI flags ask for (``slurm``: the jobs of ``--cluster slurm``, else
    those Dask's configuration describes)."""
    if cluster == "slurm":
        from grader.batch.slurm import SlurmJobs, SlurmOptions

        jobs = slurm or SlurmJobs(SlurmOptions())
        return DaskExecutor(cluster, jobs.workers, own=jobs)
    if cluster:
        return DaskExecutor(cluster, workers)
    if workers <= 1:
        return InlineExecutor()
    return PoolExecutor(workers)


def _stream(submit: Callable, tasks: Iterable[Task], in_flight: int,
            completed: Callable | None = None,
            failed: Callable[[Any], None] = lambda future: None) -> Iterator[Outcome]:
    """Keep at most ``in_flight`` futures running; yield each outcome as it completes.

    When a worker process dies (the OOM killer, a crash, a signal), the pool breaks and every
    task in flight fails with it, whichever of them was the cause. Those tasks are graded
    again, one at a time, each alone in a fresh worker: the ones that were only in flight
    succeed, and a task that fails alone is the one whose exception becomes the outcome.
    """
    pending: dict[Any, tuple[Task, bool]] = {}  # future -> (task, graded alone)
    suspects: collections.deque[Task] = collections.deque()
    source = iter(tasks)

    def fill() -> None:
        task: Task | None
        if suspects:  # let the pool drain, then try each suspect alone
            if not pending:
                task = suspects.popleft()
                pending[submit(task)] = (task, True)
            return
        while len(pending) < in_flight:
            task = next(source, None)
            if task is None:
                return
            pending[submit(task)] = (task, False)

    fill()
    while pending:
        waiter = completed(pending) if completed else cf.as_completed(list(pending))
        future = next(waiter)
        task, alone = pending.pop(future)
        try:
            yield task, future.result()
        except Exception as exc:  # noqa: BLE001 - the grader's failure, not the student's
            failed(future)
            if alone:
                yield task, exc
            else:
                suspects.append(task)
        fill()
