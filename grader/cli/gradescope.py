"""Gradescope's commands: ``grader gradescope`` runs inside its autograder,
``grader package-gradescope`` builds the bundle it runs."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli import COMMANDS
from grader.console import console
from grader.errors import GraderError
from grader.prepare.expected import prepare
from grader.rubric import assignments
from grader.rubric.load import load_rubric


@COMMANDS.register
@click.command("gradescope")
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
    from grader.integrations import gradescope

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


@COMMANDS.register
@click.command("package-gradescope")
@click.argument("assignment")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("autograder.zip"), show_default=True)
@click.option("--with-course-data", is_flag=True,
              help="Ship the prepared inputs of checks fed by the course's own data (their "
                   "rights are unclear: keep the bundle within your course).")
def package_gradescope(assignment: str, out: Path, with_course_data: bool) -> None:
    """Build autograder.zip for Gradescope: setup.sh, run_autograder, the harness wheel without
    the answer key, and every check's expected outputs prepared here, as data."""
    from grader.integrations import gradescope

    rubric, rubric_hash = load_rubric(assignments.rubric_path(assignment))
    names, left_out = gradescope.package(rubric, rubric_hash, out, with_course_data)
    console().print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): {', '.join(names)}")
    if left_out:
        console().print(f"{len(left_out)} check(s) need the course's own data and will be "
                        f"skipped on Gradescope ({', '.join(left_out)}); add --with-course-data "
                        "to ship their inputs")
