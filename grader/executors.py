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

import concurrent.futures as cf
import functools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import GraderError


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to grade one materialised submission."""

    student: str
    root: str
    module_dir: str
    modules: dict[str, str]
    content_hash: str
    notes: list[str] = field(default_factory=list)
    rubric_file: str = ""
    data_dir: str | None = None
    needs_gpu: bool = False


def run_task(task: Task) -> dict[str, Any]:
    """Grade ``task`` (in whatever process runs it) and return the result as a dict."""
    from grader import grading
    from grader.submission import Submission

    if task.data_dir:
        os.environ["GRADER_DATA"] = task.data_dir
    rubric, rubric_hash, prepared = _prepared(task.rubric_file)
    loaded = Submission(
        student=task.student, root=Path(task.root), content_hash=task.content_hash,
        module_dir=task.module_dir, modules={m: Path(p) for m, p in task.modules.items()},
        missing=[m for m in rubric.modules if m not in task.modules], notes=list(task.notes),
    )
    return grading.grade(loaded, rubric, rubric_hash, prepared).to_dict(include_artifacts=True)


@functools.lru_cache(maxsize=4)
def _prepared(rubric_file: str):
    """Rubric and prepared cases, once per process (expected outputs come from the disk cache)."""
    from grader.prepare import prepare
    from grader.rubric import load_rubric

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

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.workers, mp_context=self._context)

    def stream(self, tasks: Iterable[Task], function: Callable = run_task) -> Iterator[Outcome]:
        return _stream(lambda task: self._submit(function, task), tasks, 2 * self.workers)

    def _submit(self, function: Callable, task: Task) -> cf.Future:
        try:
            return self._pool.submit(function, task)
        except cf.process.BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(function, task)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Tasks on a Dask ``distributed`` cluster: an existing scheduler, or ``local``.

    Submissions are materialised into a folder the workers must be able to
    read (a shared filesystem on a real cluster). Tasks with GPU checks ask
    for one ``GPU`` worker resource (start such workers with
    ``dask worker ADDRESS --resources GPU=1``).
    """

    def __init__(self, address: str, workers: int):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise GraderError("--cluster needs Dask: pip install -e '.[cluster]'") from None
        self._cluster = None
        if address == "local":
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, host="127.0.0.1")
            address = self._cluster.scheduler_address
        try:
            self._client = Client(address, timeout="30s")
        except OSError as exc:
            raise GraderError(f"--cluster {address}: cannot reach the Dask scheduler ({exc})") from None
        self.workers = max(1, len(self._client.scheduler_info()["workers"]))

    def stream(self, tasks: Iterable[Task], function: Callable = run_task) -> Iterator[Outcome]:
        def submit(task: Task):
            resources = {"GPU": 1} if task.needs_gpu else None
            return self._client.submit(function, task, pure=False, resources=resources,
                                       key=f"grade-{task.student}-{task.content_hash}")

        return _stream(submit, tasks, 2 * self.workers, self._as_completed)

    def _as_completed(self, futures: Iterable) -> Iterator:
        from distributed import as_completed

        return iter(as_completed(list(futures)))

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(workers: int, cluster: str | None):
    """The executor the CLI flags ask for."""
    if cluster:
        return DaskExecutor(cluster, workers)
    if workers <= 1:
        return InlineExecutor()
    return PoolExecutor(workers)


def _stream(submit: Callable, tasks: Iterable[Task], in_flight: int,
            completed: Callable | None = None) -> Iterator[Outcome]:
    """Keep at most ``in_flight`` futures running; yield each outcome as it completes."""
    pending: dict[Any, Task] = {}
    source = iter(tasks)

    def fill() -> None:
        while len(pending) < in_flight:
            task = next(source, None)
            if task is None:
                return
            pending[submit(task)] = task

    fill()
    while pending:
        waiter = completed(pending) if completed else cf.as_completed(list(pending))
        future = next(waiter)
        task = pending.pop(future)
        try:
            yield task, future.result()
        except Exception as exc:  # noqa: BLE001 - a crashed task is that submission's problem
            yield task, exc
        fill()

