"""Instructors' commands for a batch: ``prepare``, ``grade``, ``rescore``, ``report`` and
``export``."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from grader.batch.slurm import SlurmOptions
from grader.cli import COMMANDS
from grader.cli._slurm import jobs_for, slurm_flags
from grader.console import console
from grader.errors import GraderError
from grader.export import FORMATS
from grader.intake import submission
from grader.prepare.expected import prepare
from grader.rubric import assignments
from grader.rubric.load import load_rubric
from grader.stamps import who
from grader.store.batches import BatchLog
from grader.store.gradebook import Gradebook


class _FormatChoice(click.Choice):
    """The registered export formats, read when the option is used (a new format module
    needs no edit here)."""

    def __init__(self) -> None:
        super().__init__([])

    @property  # type: ignore[override]
    def choices(self) -> list[str]:
        return FORMATS.names()

    @choices.setter
    def choices(self, value) -> None:
        pass


@COMMANDS.register
@click.command("prepare")
@click.argument("assignment")
def prepare_command(assignment: str) -> None:
    """Compute and cache ASSIGNMENT's expected outputs (done automatically when grading)."""
    rubric, rubric_hash = load_rubric(assignments.rubric_path(assignment))
    prepared = prepare(rubric, rubric_hash)
    ready = sum(p.unavailable is None for p in prepared)
    console().print(f"{rubric.assignment}: {ready} of {len(prepared)} checks prepared")


@COMMANDS.register
@click.command()
@click.argument("assignment")
@click.argument("submissions", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("gradebook.sqlite"), show_default=True, help="The gradebook file.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every submission's result (graded now or reused) as a JSON list.")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default=True, help="Submissions graded in parallel.")
@click.option("--cluster", metavar="ADDRESS",
              help="Run on a Dask scheduler at ADDRESS, 'local' for a local Dask cluster, or "
              "'slurm' for Dask workers in SLURM jobs (the --slurm-* flags).")
@click.option("--regrade", "regrade", is_flag=False, flag_value="*", default=None,
              metavar="[STUDENTS]", help="Grade again even if the gradebook has a result: "
              "everyone, or the comma-separated students named.")
@click.option("--submitted-at", "times_csv", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="CSV of student,submitted_at (ISO 8601) for the late policy.")
@click.option("--extensions", "extensions_csv", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="CSV of student,days[,reason]: extensions recorded in the "
              "gradebook (as grader extend does) before grading.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
@slurm_flags
def grade(assignment: str, submissions: tuple[Path, ...], db: Path, json_out: Path | None,
          workers: int, cluster: str | None, regrade: str | None, times_csv: Path | None,
          extensions_csv: Path | None, quiet: bool, slurm: SlurmOptions) -> None:
    """Grade every submission in SUBMISSIONS (folders, .py files, archives) into the gradebook."""
    from grader.store.extensions import read_extensions_csv
    from grader.store.late import read_times_csv

    jobs = jobs_for(cluster, slurm)
    _batch(assignment, submissions, db, json_out, quiet, dict(
        workers=jobs.workers if jobs else workers, cluster=cluster, slurm=jobs,
        regrade=None if regrade is None else (set() if regrade == "*" else set(regrade.split(","))),
        submitted_at=read_times_csv(times_csv) if times_csv else {}),
        lambda name: read_extensions_csv(extensions_csv, name) if extensions_csv else [])


@COMMANDS.register
@click.command()
@click.argument("assignment")
@click.argument("submissions", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The gradebook that holds the earlier grading's outputs.")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default=True, help="Submissions re-scored in parallel.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
def rescore(assignment: str, submissions: tuple[Path, ...], db: Path, workers: int,
            quiet: bool) -> None:
    """Apply ASSIGNMENT's (edited) rubric to the outputs the gradebook stored: no student code
    runs, except for requests the earlier grading did not make (new cases, changed inputs)."""
    results = _batch(assignment, submissions, db, None, quiet,
                     dict(workers=workers, rescore=True), lambda name: [], verb="re-scored")
    rescored: dict[str, list[str]] = {}
    rerun: dict[str, list[str]] = {}
    for result in results:
        for check in result.checks:
            ran = check.calls_run
            if ran is not None:
                (rerun if ran else rescored).setdefault(check.id, []).append(result.student)
    out = console()
    out.print(f"re-scored from stored outputs: {', '.join(c for c in rescored if c not in rerun) or 'none'}")
    if rerun:
        out.print("ran student code for: " + "; ".join(
            f"{c} ({len(students)} submission(s))" for c, students in rerun.items()))


def _batch(assignment: str, submissions: tuple[Path, ...], db: Path, json_out: Path | None,
           quiet: bool, settings: dict, extensions, verb: str = "graded"):
    """Grade (or re-score) SUBMISSIONS into the gradebook ``db``; print the summary line;
    exit 1 if the grader itself failed on any. ``extensions(assignment)`` lists the extensions
    to record first."""
    from grader.batch.grade import BatchOptions, grade_batch
    from grader.batch.progress import BatchProgress

    path = assignments.rubric_path(assignment)
    rubric, rubric_hash = load_rubric(path)
    paths = submission.discover(list(submissions), rubric.modules)
    if not paths:
        raise GraderError(f"no submissions found in {', '.join(map(str, submissions))}")
    options = BatchOptions(**{**settings, "workers": min(settings["workers"], len(paths))})
    out = console()
    started = time.perf_counter()
    granted = extensions(rubric.assignment)
    with Gradebook(db) as book, BatchLog(db) as log:
        batch = log.start(rubric.assignment, len(paths), who(None), os.getpid())
        progress = BatchProgress(len(paths), out, quiet, on_advance=lambda r: log.advance(
            batch, r.score < r.max_score, bool(r.grader_failure)))
        state = "failed"
        try:
            for extension in granted:
                book.add_extension(extension)
            results = grade_batch(paths, rubric, rubric_hash, path, book, options, progress,
                                  cancelled=lambda: log.cancel_requested(batch))
            state = "cancelled" if log.cancel_requested(batch) else "done"
        finally:
            progress.close()
            log.finish(batch, state)
    if json_out:
        json_out.write_text(json.dumps([_summary(r) for r in results], indent=2))
    if not results:
        raise GraderError(f"the batch was cancelled before any submission of {rubric.assignment} "
                          "was graded")
    mean = sum(r.score for r in results) / len(results)
    out.print(f"{verb} {len(results)} submission(s) of {rubric.assignment} in "
              f"{time.perf_counter() - started:.1f} s; mean score "
              f"{mean:.2f}/{results[0].max_score:g}; gradebook {db}"
              + ("; cancelled: the others were not graded" if state == "cancelled" else ""))
    failed = [r.student for r in results if r.grader_failure]
    if failed:
        out.print(f"the grader failed on {len(failed)} submission(s) ({', '.join(failed[:10])}): "
                  "they are recorded as errors, not grades, and the next run grades them again")
        sys.exit(1)
    return results


@COMMANDS.register
@click.command()
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The gradebook file.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the reports into.")
@click.option("--assignment", default=None, help="Only this assignment.")
@click.option("--instructor", is_flag=True, help="Also show what the code printed during hidden "
              "checks (it can carry their inputs): for the course staff, not for students.")
def report(db: Path, out: Path, assignment: str | None, instructor: bool) -> None:
    """Render each student's report (HTML with figures, and Markdown) and the class summary
    (index.html) from the gradebook."""
    from grader.report import SUMMARY_FILE, render_reports

    started = time.perf_counter()
    with Gradebook(db) as book:
        results = book.effective(assignment)
        if not results:
            raise GraderError(f"{db}: the gradebook holds no results"
                              + (f" for {assignment}" if assignment else ""))
        render_reports(results, out, artifacts=book.artifacts,
                       instructor=instructor, similar=book.similar_pairs())
    console().print(f"wrote {len(results)} student report(s) (HTML and Markdown) and the class "
                    f"summary {out / SUMMARY_FILE} in {time.perf_counter() - started:.1f} s")


@COMMANDS.register
@click.command()
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The gradebook file.")
@click.option("--format", "fmt", type=_FormatChoice(),
              required=True, help="Export format.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write.")
@click.option("--assignment", default=None, help="Only this assignment.")
@click.option("--student", default=None, help="Only this student (required for gradescope).")
def export(db: Path, fmt: str, out: Path, assignment: str | None, student: str | None) -> None:
    """Export each student's effective grade (the latest result with overrides and
    extensions applied) from the gradebook."""
    with Gradebook(db) as book:
        results = [r for r in book.effective(assignment) if student in (None, r.student)]
    if not results:
        raise GraderError(f"{db}: no results to export for the selection")
    FORMATS[fmt](results, out)
    console().print(f"exported {len(results)} result(s) as {fmt} to {out}")


def _summary(result) -> dict:
    data = result.to_dict()
    keys = ("id", "name", "target", "status", "score", "max_score", "message", "details",
            "duration_s", "visibility")
    data["checks"] = [{k: c[k] for k in keys} for c in data["checks"]]
    return data
