"""The settings one grading task runs with, held per task instead of in ``os.environ``.

A task grades one submission with the batch's course data folder and its share of the CPU
threads. A Dask worker runs several tasks at once, in threads of one process, and tasks of
different batches one after another: a setting written into the process's environment for
one task is what every other task of the process reads meanwhile. A context variable is each
thread's own, so each task sets its :class:`RunContext` in the thread that runs it (the
executors do, :func:`running`), and what the user set for the whole run (``grader --data``,
``GRADER_DATA``, ``GRADER_THREADS``) stays the default underneath.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class RunContext:
    """``data_dir``: the course data folder; ``threads``: the CPU threads one sandbox may use
    (``None``: the run's default for each)."""

    data_dir: str | None = None
    threads: int | None = None


_current: contextvars.ContextVar[RunContext] = contextvars.ContextVar(
    "grader_run_context", default=RunContext())


def current() -> RunContext:
    """The settings of the task this thread runs (the defaults outside any task)."""
    return _current.get()


@contextlib.contextmanager
def running(context: RunContext) -> Iterator[RunContext]:
    """Run the body with ``context`` as this thread's settings, and the previous ones after."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
