"""The ``grader`` command line: ``check`` (students), ``grade`` and ``report`` (instructors)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from grader import assignments, env_cli, semester_cli, submission
from grader.console import console, print_result
from grader.errors import GraderError
from grader.gradebook import Gradebook
from grader.prepare import prepare
from grader.results import Status
from grader.rubric import load_rubric


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding the course data (default: $GRADER_DATA or ../shared/data).")
@click.version_option(package_name="cv-course-grader")
def cli(data: Path | None) -> None:
    """Autograding harness for the computer-vision course."""
    if data is not None:
        if not data.is_dir():
            raise GraderError(f"--data {data}: no such folder")
        os.environ["GRADER_DATA"] = str(data.resolve())


@cli.command()
@click.argument("where", nargs=-1, metavar="[ASSIGNMENT] [PATH]")
@click.option("--only", "only", multiple=True,
              help="Run only this check id or function's checks (repeatable).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the result as JSON.")
@click.option("--junit", "junit_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the result as JUnit XML.")
@click.option("--ci", is_flag=True, help="Print a Markdown summary (also appended to "
              "$GITHUB_STEP_SUMMARY when set) instead of the table.")
def check(where: tuple[str, ...], only: tuple[str, ...], json_out: Path | None,
          junit_out: Path | None, ci: bool) -> None:
    """Self-check your code against the visible checks; exit 1 on any failure.

    Inside an unpacked kit, run it with no argument. With the full harness,
    name the ASSIGNMENT and the PATH of the code (default: the current folder).
    """
    from grader.export import junit

    result = _self_check(where, list(only))
    if ci:
        _ci_summary(result)
    else:
        print_result(result, console())
    if json_out:
        json_out.write_text(json.dumps(result.to_dict(), indent=2))
    if junit_out:
        junit.write([result], junit_out)
    failed = [c for c in result.checks if c.status not in (Status.PASSED, Status.SKIPPED)]
    sys.exit(1 if failed else 0)


def _self_check(where: tuple[str, ...], only: list[str]):
    """Kit mode (no assignment, a kit at or above PATH) or full-harness mode (ASSIGNMENT [PATH])."""
    from grader.kit import Kit, check_kit, find_kit, open_kit

    if len(where) > 2:
        raise GraderError("check takes at most two arguments: [ASSIGNMENT] [PATH]")
    first = where[0] if where else None
    if first is None or (len(where) == 1 and Path(first).is_dir() and not _is_assignment(first)):
        path = Path(first or ".")
        root = find_kit(path)
        if root is None:
            raise GraderError(f"no kit at or above {path.resolve()}: name the assignment "
                              "(grader check ASSIGNMENT [PATH]) or run inside an unpacked kit")
        return check_kit(open_kit(root), path, only or None)
    path = Path(where[1]) if len(where) == 2 else Path(".")
    if not path.exists():
        raise GraderError(f"{path}: no such file or folder")
    rubric, rubric_hash = load_rubric(assignments.rubric_path(first))
    kit = Kit(path, rubric.assignment, rubric, rubric_hash, prepare(rubric, rubric_hash,
                                                                    visible_only=True))
    return check_kit(kit, path, only or None)


def _is_assignment(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or (assignments.RUBRICS_DIR / f"{name}.yaml").is_file()


@cli.command()
@click.argument("assignment")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the kit into (new or empty).")
@click.option("--zip", "zip_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the kit as a deterministic .zip.")
def kit(assignment: str, out: Path, zip_file: Path | None) -> None:
    """Export ASSIGNMENT's student kit: stubs, visible checks as data, the harness without answers."""
    from grader.kit import export

    files = export(assignment, out, zip_file)
    size = sum(f.stat().st_size for f in files)
    console().print(f"wrote {len(files)} files ({size / 1024:.0f} KiB) to {out}"
                    + (f" and {zip_file}" if zip_file else ""))


@cli.command()
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
              help="Run on a Dask scheduler at ADDRESS, or 'local' for a local Dask cluster.")
@click.option("--regrade", "regrade", is_flag=False, flag_value="*", default=None,
              metavar="[STUDENTS]", help="Grade again even if the gradebook has a result: "
              "everyone, or the comma-separated students named.")
@click.option("--submitted-at", "times_csv", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="CSV of student,submitted_at (ISO 8601) for the late policy.")
@click.option("--extensions", "extensions_csv", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="CSV of student,days[,reason]: extensions recorded in the "
              "gradebook (as grader extend does) before grading.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
def grade(assignment: str, submissions: tuple[Path, ...], db: Path, json_out: Path | None,
          workers: int, cluster: str | None, regrade: str | None, times_csv: Path | None,
          extensions_csv: Path | None, quiet: bool) -> None:
    """Grade every submission in SUBMISSIONS (folders, .py files, archives) into the gradebook."""
    from grader.extensions import read_extensions_csv
    from grader.late import read_times_csv

    _batch(assignment, submissions, db, json_out, quiet, dict(
        workers=workers, cluster=cluster,
        regrade=None if regrade is None else (set() if regrade == "*" else set(regrade.split(","))),
        submitted_at=read_times_csv(times_csv) if times_csv else {}),
        lambda name: read_extensions_csv(extensions_csv, name) if extensions_csv else [])


@cli.command()
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
            ran = check.details.get("calls_run")
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
    from grader.batch import BatchOptions, grade_batch
    from grader.progress import BatchProgress

    path = assignments.rubric_path(assignment)
    rubric, rubric_hash = load_rubric(path)
    paths = submission.discover(list(submissions), rubric.modules)
    if not paths:
        raise GraderError(f"no submissions found in {', '.join(map(str, submissions))}")
    options = BatchOptions(**{**settings, "workers": min(settings["workers"], len(paths))})
    out = console()
    started = time.perf_counter()
    progress = BatchProgress(len(paths), out, quiet)
    granted = extensions(rubric.assignment)
    try:
        with Gradebook(db) as book:
            for extension in granted:
                book.add_extension(extension)
            results = grade_batch(paths, rubric, rubric_hash, path, book, options, progress)
    finally:
        progress.close()
    if json_out:
        json_out.write_text(json.dumps([_summary(r) for r in results], indent=2))
    mean = sum(r.score for r in results) / len(results)
    out.print(f"{verb} {len(results)} submission(s) of {rubric.assignment} in "
              f"{time.perf_counter() - started:.1f} s; mean score "
              f"{mean:.2f}/{results[0].max_score:g}; gradebook {db}")
    failed = [r.student for r in results if r.grader_failure]
    if failed:
        out.print(f"the grader failed on {len(failed)} submission(s) ({', '.join(failed[:10])}): "
                  "they are recorded as errors, not grades, and the next run grades them again")
        sys.exit(1)
    return results


@cli.command()
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


@cli.command()
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The gradebook file.")
@click.option("--format", "fmt", type=click.Choice(["canvas", "csv", "json", "junit", "gradescope"]),
              required=True, help="Export format.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write.")
@click.option("--assignment", default=None, help="Only this assignment.")
@click.option("--student", default=None, help="Only this student (required for gradescope).")
def export(db: Path, fmt: str, out: Path, assignment: str | None, student: str | None) -> None:
    """Export each student's effective grade (the latest result with overrides and
    extensions applied) from the gradebook."""
    from grader.export import FORMATS

    with Gradebook(db) as book:
        results = [r for r in book.effective(assignment) if student in (None, r.student)]
    if not results:
        raise GraderError(f"{db}: no results to export for the selection")
    FORMATS[fmt](results, out)
    console().print(f"exported {len(results)} result(s) as {fmt} to {out}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--strict", is_flag=True,
              help="Exit 1 unless every guarantee holds (what isolation: strict demands).")
def doctor(as_json: bool, strict: bool) -> None:
    """Say which isolation layers work here, what each one stops, and what nothing stops."""
    from grader import doctor as checkup

    data = checkup.report()
    click.echo(json.dumps(data, indent=2) if as_json else checkup.render(data))
    sys.exit(1 if strict and not all(g["holds"] for g in data["guarantees"].values()) else 0)


@cli.command("prepare")
@click.argument("assignment")
def prepare_command(assignment: str) -> None:
    """Compute and cache ASSIGNMENT's expected outputs (done automatically when grading)."""
    rubric, rubric_hash = load_rubric(assignments.rubric_path(assignment))
    prepared = prepare(rubric, rubric_hash)
    ready = sum(p.unavailable is None for p in prepared)
    console().print(f"{rubric.assignment}: {ready} of {len(prepared)} checks prepared")


@cli.command()
@click.argument("assignment")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default=True, help="Mutants graded in parallel.")
@click.option("--cluster", metavar="ADDRESS",
              help="Run on a Dask scheduler at ADDRESS, or 'local' for a local Dask cluster.")
@click.option("--max-mutants", type=click.IntRange(min=1), default=None,
              help="Grade a seeded sample of at most N mutants (default: the assignment's).")
@click.option("--all-mutants", is_flag=True, help="Grade every mutant, overriding the default sample.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option("--check-timeout", type=click.FloatRange(min=0.1), default=None,
              help="Cap on each check's time limit while grading mutants (not variants); "
                   "default 20 s, 120 s for proj4_cnn's training.")
@click.option("--no-variants", is_flag=True, help="Skip the correct variants.")
@click.option("--show-survivors", is_flag=True, help="Print each surviving mutant's diff.")
@click.option("--fail-under", type=click.FloatRange(0, 1), default=None,
              help="Exit 1 if the mutation score is below this, or a correct variant or free "
                   "choice loses points.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the audit as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
def audit(assignment: str, workers: int, cluster: str | None, max_mutants: int | None,
          all_mutants: bool, seed: int, check_timeout: float | None, no_variants: bool,
          show_survivors: bool, fail_under: float | None, json_out: Path | None, quiet: bool) -> None:
    """Mutate ASSIGNMENT's reference and grade every mutant: how much wrong code does the rubric catch?"""
    try:
        from grader.audit import AuditOptions, run_audit
        from grader.audit.cli import progress_bar
    except ModuleNotFoundError:
        raise GraderError("grader audit is instructor tooling: it needs the full harness and the "
                          "answer key, not a student kit") from None

    out = console()
    with progress_bar(out, quiet) as progress:
        report = run_audit(assignment, AuditOptions(
            workers=workers, cluster=cluster, max_mutants=max_mutants, all_mutants=all_mutants,
            seed=seed, check_timeout_s=check_timeout, variants=not no_variants, progress=progress))
    if json_out:
        report.write_json(json_out)
    if quiet:
        out.print(report.summary())
    else:
        report.render(out, show_survivors)
    sys.exit(1 if fail_under is not None and (report.tally.score < fail_under or not report.passed)
             else 0)


@cli.command("gradescope")
@click.argument("assignment", required=False)
@click.option("--bundle", "bundle_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Grade with the prepared checks of an autograder bundle (no answer key needed).")
@click.option("--submission", "submission_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("/autograder/submission"), show_default=True)
@click.option("--results", "results_file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("/autograder/results/results.json"), show_default=True)
@click.option("--metadata", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("/autograder/submission_metadata.json"), show_default=True,
              help="Gradescope's submission metadata: its created_at is the submission time.")
def gradescope_command(assignment: str | None, bundle_dir: Path | None, submission_dir: Path,
                       results_file: Path, metadata: Path) -> None:
    """Grade one submission inside Gradescope's autograder and write results.json."""
    from grader import gradescope

    if bundle_dir is not None:
        rubric, rubric_hash, prepared = gradescope.load_bundle(bundle_dir)
    elif assignment:
        rubric, rubric_hash = load_rubric(assignments.rubric_path(assignment))
        prepared = prepare(rubric, rubric_hash)
    else:
        raise GraderError("name the ASSIGNMENT, or the --bundle of a packaged autograder")
    if not submission_dir.is_dir():
        raise GraderError(f"--submission {submission_dir}: no such folder")
    data = gradescope.run(rubric, rubric_hash, prepared, submission_dir, results_file, metadata)
    console().print(f"score {data['score']:g}; wrote {results_file}")


@cli.command("package-gradescope")
@click.argument("assignment")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("autograder.zip"), show_default=True)
@click.option("--with-course-data", is_flag=True,
              help="Ship the prepared inputs of checks fed by the course's own data (their "
                   "rights are unclear: keep the bundle within your course).")
def package_gradescope(assignment: str, out: Path, with_course_data: bool) -> None:
    """Build autograder.zip for Gradescope: setup.sh, run_autograder, the harness wheel without
    the answer key, and every check's expected outputs prepared here, as data."""
    from grader import gradescope

    rubric, rubric_hash = load_rubric(assignments.rubric_path(assignment))
    names, left_out = gradescope.package(rubric, rubric_hash, out, with_course_data)
    console().print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): {', '.join(names)}")
    if left_out:
        console().print(f"{len(left_out)} check(s) need the course's own data and will be "
                        f"skipped on Gradescope ({', '.join(left_out)}); add --with-course-data "
                        "to ship their inputs")


def _ci_summary(result) -> None:
    from grader.report import render_markdown

    text = render_markdown(result)
    click.echo(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")


def _summary(result) -> dict:
    data = result.to_dict()
    keys = ("id", "name", "target", "status", "score", "max_score", "message", "details",
            "duration_s", "visibility")
    data["checks"] = [{k: c[k] for k in keys} for c in data["checks"]]
    return data


for _command in semester_cli.COMMANDS + env_cli.COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Console entry point: user errors become one sentence and exit code 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except GraderError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except SystemExit:
        raise


if __name__ == "__main__":
    main()
