"""Grade many submissions: prepare once, grade in parallel, record each as soon as it exists.

The main process materialises each submission (to learn its content hash), each
under the rubric's ``load_timeout_s`` (:mod:`grader.intake.timed`), skips those the
gradebook already holds for this rubric unless asked to regrade, and hands the
rest to an executor (:mod:`grader.batch.executors`). Each result is committed in its
own transaction the moment it arrives, so a batch killed with SIGKILL resumes
where it stopped. A submission that cannot be loaded (over a cap, or over its
time limit), or whose grading task crashes, is recorded with every check in
``error`` and the reason: it never stops the batch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader import grading, workdirs
from grader.rubric import environments
from grader.store import late
from grader.intake import submission
from grader.intake.timed import Intake
from grader.datapath import course_data_dir
from grader.errors import SubmissionError
from grader.batch.executors import Task, make_executor
from grader.batch.slurm import SlurmJobs
from grader.store.gradebook import Gradebook
from grader.store.extensions import Extension
from grader.stamps import now
from grader.prepare.expected import prepare
from grader.sandbox import isolation
from grader.sandbox.launcher import threads_per_worker
from grader.batch.progress import BatchProgress
from grader.results import CheckResult, Status, SubmissionResult
from grader.rubric.load import Rubric


@dataclass
class BatchOptions:
    """How to run a batch (the ``grader grade`` flags)."""

    workers: int = 1
    cluster: str | None = None
    regrade: set[str] | None = None  # None: nothing; empty set: everyone; else these students
    submitted_at: dict[str, dt.datetime] = field(default_factory=dict)
    rescore: bool = False  # grade everyone again, answering stored requests from the gradebook
    slurm: SlurmJobs | None = None  # --cluster slurm: the jobs whose workers grade

    def regrades(self, student: str) -> bool:
        return self.rescore or (self.regrade is not None
                                and (not self.regrade or student in self.regrade))


def grade_batch(paths: list[Path], rubric: Rubric, rubric_hash: str, rubric_file: Path,
                book: Gradebook, options: BatchOptions, progress: BatchProgress,
                cancelled: Callable[[], bool] = lambda: False) -> list[SubmissionResult]:
    """Grade ``paths``; return one result per path graded, in the order given. Once
    ``cancelled()`` says so (asked after each result) no new submission starts; those being
    graded finish and are recorded."""
    isolation.available()  # probe (and say what is missing) once, before any worker starts
    if rubric.isolation == "strict":  # refuse before anything is recorded
        isolation.require_all_guarantees(rubric.assignment)
    # a local Dask cluster starts in the background while the batch is prepared
    executor = make_executor(options.workers, options.cluster, options.slurm)
    intake = Intake(rubric.defaults.load_timeout_s)  # its helper starts at the first submission
    results: dict[Path, SubmissionResult] = {}
    opened: dict[str, tuple[Path, submission.Submission]] = {}
    try:
        workdirs.sweep_orphans()  # folders of earlier runs killed before they could clean up
        prepare(rubric, rubric_hash)  # fill the expected-output cache once, before workers read it
        if rubric.environment_spec is not None:  # built here once, before any worker needs it
            environments.ensure(rubric.environment_spec)
        extensions = book.extensions(rubric.assignment)
        # each of the parallel workers gets its share of the cores (of its SLURM job's) for
        # multi-threaded checks
        common = dict(rubric_file=str(rubric_file.resolve()), rubric_hash=rubric_hash,
                      data_dir=str(course_data_dir()) if course_data_dir() else None,
                      threads=options.slurm.threads if options.slurm
                      else threads_per_worker(options.workers),
                      needs_gpu=any(c.device == "cuda" for c in rubric.checks),
                      stored_calls_db=str(book.path.resolve()) if options.rescore else None)
        tasks = _tasks(paths, rubric, rubric_hash, common, book, options, results, opened,
                       progress, intake)
        for task, outcome in executor.stream(tasks):
            path, loaded = opened.pop(task.root)
            result = _finish(outcome, task, path, rubric, rubric_hash, options, extensions)
            book.record(result)
            loaded.cleanup()
            results[path] = result
            progress.advance(result, reused=False)
            if cancelled():
                break
    finally:
        executor.close()
        intake.close()
        for _, loaded in opened.values():
            loaded.cleanup()
    return [results[p] for p in paths if p in results]


def _tasks(paths, rubric, rubric_hash, common, book, options, results, opened,
           progress, intake: Intake) -> Iterator[Task]:
    """Materialise each submission through ``intake`` (a time limit each); yield a task for
    each one that needs grading (``common``: the task fields every submission shares)."""
    for path in paths:
        student = submission.student_id(path)
        try:
            loaded = intake.load(path, rubric.modules, student=student,
                                 provided=rubric.provided_files)
        except SubmissionError as exc:
            result = unloadable(student, path, rubric, rubric_hash, str(exc))
            book.record(result)
            results[path] = result
            progress.advance(result, reused=False)
            continue
        known = None if options.regrades(student) else book.find(
            student, loaded.content_hash, rubric_hash)
        if known is not None:
            loaded.cleanup()
            results[path] = known
            progress.advance(known, reused=True)
            continue
        opened[str(loaded.root)] = (path, loaded)
        yield Task(submission=loaded, **common)


def _finish(outcome, task: Task, path: Path, rubric: Rubric, rubric_hash: str,
            options: BatchOptions, extensions: dict[str, Extension]) -> SubmissionResult:
    if isinstance(outcome, BaseException):
        reason = (f"the grader failed, not the submission: its worker died twice while grading "
                  f"it ({type(outcome).__name__}: {outcome}); the next run grades it again")
        result = replace(unloadable(task.student, path, rubric, rubric_hash, reason,
                                    content_hash=task.content_hash), grader_failure=reason)
    else:
        result = SubmissionResult.from_dict(outcome)
    return late.apply_policy(result, path, rubric, options.submitted_at, extensions)


def unloadable(student: str, path: Path, rubric: Rubric, rubric_hash: str, reason: str,
               content_hash: str | None = None) -> SubmissionResult:
    """A zero result for a submission that could not be graded, with the reason on every check."""
    checks = [CheckResult(c.id, c.name, c.function, Status.ERROR, 0.0, c.points,
                          f"submission could not be graded: {reason}", visibility=c.visibility)
              for c in rubric.checks]
    if content_hash is None:  # the file's bytes, read in chunks (it may be huge), or its path
        digest = submission.file_digest(path) if path.is_file() else hashlib.sha256(
            os.fsencode(path)).digest()
        content_hash = digest.hex()[:16]
    return SubmissionResult(student=student, content_hash=content_hash,
                            assignment=rubric.assignment, rubric_hash=rubric_hash, checks=checks,
                            versions=dict(grading.versions()), sandbox="not started", notes=[reason],
                            finished_at=now())
