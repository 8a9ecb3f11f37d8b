"""Intake: each submission's trusted-side preparation, under a wall-clock limit of its own.

Before any of a student's code runs, the trusted side works on what the student handed in:
it copies or extracts the files, lifts notebooks, hashes the files and scans the graded
modules for the course's source rules (:func:`grader.intake.submission.load_into`,
:mod:`grader.intake.source_rules`). Every step is linear in its input and capped (the caps of
:mod:`grader.intake.archive`, :mod:`grader.intake.ipynb` and :data:`grader.intake.submission.MAX_SOURCE_BYTES`),
and on top of that one submission's preparation may take at most ``limit_s`` seconds of
wall-clock time (the rubric's ``defaults.load_timeout_s``, 30 s unless it says otherwise).
A submission over it fails alone, as a :class:`SubmissionError` whose one sentence names the
step that took too long; the batch goes on with the next one.

How the limit is kept: the work runs in a helper process, and the parent waits for it at
most ``limit_s``, then kills it. Nothing inside one process can stop this work safely:
``signal.alarm`` reaches the main thread only (Dask runs tasks in threads), and an exception
that it or ``PyThreadState_SetAsyncExc`` injects is raised only between two bytecodes — never
inside one long ``ast.parse``, ``json.loads`` or decompression, which are single C calls —
and may land in a library's cleanup (``zipfile``, ``tarfile``, ``nbformat``), leaving its
state broken for the submissions after. A process can be killed at any instant and leaves
nothing behind but the submission's folder, which the parent made and removes. The helper
starts once (from the multiprocessing forkserver where there is one, so it inherits none of
the grader's threads or locks), says when it is ready, and then prepares one submission
after another; only a submission that runs out of time costs a new one. Before each step it
tells the parent which step it starts, so the sentence says what took too long. A helper
whose grader is gone (even killed with SIGKILL) reads the end of its pipe and exits.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from grader import workdirs
from grader.intake import source_rules, submission
from grader.errors import GraderError, SubmissionError
from grader.intake.submission import Submission

START_TIMEOUT_S = 120.0  # seconds a new helper may take to start (imports on a busy machine)


class Intake:
    """Loads submissions one at a time, each under ``limit_s`` seconds of wall-clock time.

    Use it as a context manager (or call :meth:`close`), so that its helper process ends.
    ``work`` is what the helper runs for each submission (:func:`prepare`; a test gives one
    that is slow), a module-level function: it travels to the helper by name.
    """

    def __init__(self, limit_s: float, work: Callable[..., tuple[str, Any]] | None = None):
        self.limit_s = limit_s
        self._work = work or prepare
        self._helper: Any = None  # multiprocessing's process object, once started
        self._connection: Connection | None = None

    def load(self, path: Path, modules: list[str], student: str | None = None,
             provided: dict[str, str] | None = None) -> Submission:
        """:func:`grader.intake.submission.load` under the limit, in the helper process.

        Raises
        ------
        SubmissionError
            One sentence: the submission is refused (a cap, a bad archive…), took longer
            than ``limit_s`` (naming the step), or broke its helper.
        """
        root = workdirs.make("grader-submission-")
        try:
            return self._ask(path, (root, path, modules, student, provided))
        except BaseException:
            workdirs.remove(root)
            raise

    def close(self) -> None:
        """End the helper: asked to, or killed if it does not within a second."""
        if self._connection is not None:
            try:
                self._connection.send(None)
            except OSError:
                pass
        self._stop(grace_s=1.0)

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _ask(self, path: Path, request: tuple) -> Submission:
        """Send ``request`` to the helper and wait, at most ``limit_s``, for its answer."""
        connection = self._ready()
        connection.send(request)
        deadline = time.monotonic() + self.limit_s
        step = f"preparing {path.name}"
        while True:
            if not connection.poll(max(0.0, deadline - time.monotonic())):
                self._stop()
                raise SubmissionError(
                    f"{path.name}: {step} took longer than {self.limit_s:g} s, the limit on "
                    "preparing one submission (load_timeout_s); it was stopped and is not graded")
            try:
                kind, value = connection.recv()
            except (EOFError, OSError):
                code = self._stop()
                raise SubmissionError(f"{path.name}: the process preparing it ended (exit code "
                                      f"{code}) while {step}; it is not graded") from None
            if kind == "step":
                step = value
            elif kind == "done":
                return value
            elif kind == "refused":
                raise SubmissionError(value)
            else:
                raise SubmissionError(f"{path.name}: could not be prepared for grading ({value})")

    def _ready(self) -> Connection:
        """The connection to a running helper, started (and waited for) if there is none."""
        if self._connection is not None and self._helper.is_alive():
            return self._connection
        self._stop()  # a helper that died while idle (the OOM killer, a signal) is replaced
        context = _context()
        ours, theirs = context.Pipe()
        helper = context.Process(target=_serve, args=(theirs, self._work),
                                 name="grader-intake", daemon=True)
        try:
            helper.start()
        except OSError as exc:  # the forkserver's socket: e.g. a TMPDIR too long for AF_UNIX
            raise GraderError(f"the process that prepares submissions could not start ({exc}); "
                              "with a long TMPDIR, set it to a shorter folder") from None
        self._helper = helper
        theirs.close()
        self._connection = ours
        try:
            if ours.poll(START_TIMEOUT_S) and ours.recv()[0] == "ready":
                return ours
        except (EOFError, OSError):
            pass
        code = self._stop()
        raise GraderError(f"the process that prepares submissions did not start (exit code "
                          f"{code}, or no word within {START_TIMEOUT_S:g} s); is the machine out "
                          "of memory or processes?")

    def _stop(self, grace_s: float = 0.0) -> int | None:
        """End the helper (after ``grace_s`` seconds for it to end by itself); its exit code."""
        helper, self._helper = self._helper, None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if helper is None:
            return None
        helper.join(grace_s)
        if helper.is_alive():
            helper.kill()
            helper.join()
        return helper.exitcode


def load(path: Path, modules: list[str], limit_s: float, student: str | None = None,
         provided: dict[str, str] | None = None) -> Submission:
    """One submission under ``limit_s`` seconds, with a helper of its own (closed after)."""
    with Intake(limit_s) as intake:
        return intake.load(path, modules, student, provided)


def _context() -> Any:
    """The forkserver where there is one (a clean process, whatever threads the grader has),
    else spawn (Windows). A forkserver that this starts imports this module once, for every
    helper (and pool worker) it forks; one already running (a local Dask cluster's) stays."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__, "nbformat"])  # nbformat: if installed
    return context


def _serve(connection: Connection, work: Callable[..., tuple[str, Any]]) -> None:
    """The helper's loop: ``work`` on each submission asked for, until told to stop or
    orphaned. What every submission needs is imported before it says it is ready, so that no
    submission's time limit pays for it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle
    with contextlib.suppress(ImportError):
        import nbformat  # noqa: F401 - read by every notebook's lifting
    try:
        connection.send(("ready", None))
        while (request := connection.recv()) is not None:
            connection.send(work(connection, *request))
    except (EOFError, OSError):  # the grader is gone
        pass


def prepare(connection: Connection, root: Path, path: Path, modules: list[str],
            student: str | None, provided: dict[str, str] | None) -> tuple[str, Any]:
    """Load one submission into ``root`` and scan its graded modules, telling ``connection``
    each step; the answer: ``("done", Submission)``, ``("refused", sentence)`` or
    ``("failed", what went wrong)``."""
    def step(text: str) -> None:
        connection.send(("step", text))

    try:
        loaded = submission.load_into(root, path, modules, student, provided, step)
        for module in loaded.modules:
            # the grading scans again, with no limit: a source it would be slow on stops here
            step(f"scanning {module}.py for the course's source rules")
            source_rules.find_calls(loaded.source_of(module) or "")
        return "done", loaded
    except SubmissionError as exc:
        return "refused", str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever it is, it fails this submission alone
        return "failed", f"{type(exc).__name__}: {str(exc)[:200]}"
