"""The instructor's commands after the deadline: ``history``, ``override``, ``extend``,
``publish`` and ``canvas push``.

Each validates everything before it writes (a wrong student, assignment, check or score
gets one sentence, exit 2, and leaves the gradebook as it was), records who made the change
(``--by`` or the OS user), when and why, and prints the effective grade it leads to.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from grader.integrations.canvas import MATCH_BY, URL_ENV
from grader.cli import COMMANDS
from grader.console import console
from grader.errors import GraderError
from grader.store import changes
from grader.store.gradebook import Gradebook
from grader.stamps import now, who
from grader.intake.similarity import DEFAULT_THRESHOLD

_DB = click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                   required=True, help="The gradebook file.")
_ASSIGNMENT = click.option("--assignment", default=None,
                           help="The assignment (needed when the student has several).")
_BY = click.option("--by", default=None, help="Who makes the change (default: the OS user).")


@COMMANDS.register
@click.command()
@click.argument("student")
@_DB
@_ASSIGNMENT
def history(student: str, db: Path, assignment: str | None) -> None:
    """List every grading of STUDENT, the overrides and extensions, and the effective grade."""
    with Gradebook(db) as book:
        names = [assignment] if assignment else book.assignments_of(student)
        changes.assignment_of(book, student, assignment)
        out = console()
        for name in names:
            _print_history(book, student, name, out)


@COMMANDS.register
@click.command()
@click.argument("student")
@click.argument("check", required=False)
@_DB
@click.option("--score", type=float, default=None, help="The points the check (or, without "
              "CHECK, the adjustment) is worth from now on.")
@click.option("--out-of", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Without CHECK: points the adjustment adds to the maximum (a written part).")
@click.option("--reason", default=None, help="Why (recorded and shown in the report).")
@click.option("--clear", is_flag=True, help="Remove the active override (or adjustment).")
@_ASSIGNMENT
@_BY
def override(student: str, check: str | None, db: Path, score: float | None, out_of: float,
             reason: str | None, clear: bool, assignment: str | None, by: str | None) -> None:
    """Set the points of STUDENT's CHECK by hand, or without CHECK adjust the whole submission;
    it survives every regrade."""
    check_id = check or ""
    with Gradebook(db) as book:
        name, grade = changes.override(book, student, assignment, check_id, score, reason,
                                       who(by), out_of, clear)
    console().print(f"{student} {name}: {'cleared the' if clear else 'recorded the'} "
                    f"{changes.what(check_id)}; effective grade {grade.score:g}/{grade.max_score:g}")


@COMMANDS.register
@click.command()
@click.argument("student")
@_DB
@click.option("--days", type=click.FloatRange(min=0), required=True,
              help="Extra days after the due date (0 removes the extension).")
@click.option("--reason", required=True, help="Why (recorded and shown in the report).")
@_ASSIGNMENT
@_BY
def extend(student: str, db: Path, days: float, reason: str, assignment: str | None,
           by: str | None) -> None:
    """Give STUDENT extra days: lateness is recomputed from the submission time, now and at
    every later grading, report and export."""
    with Gradebook(db) as book:
        name, grade = changes.extend(book, student, assignment, days, reason, who(by))
    console().print(f"{student} {name}: extension of {days:g} day(s) recorded; "
                    f"{grade.late_days} day(s) late; effective grade "
                    f"{grade.score:g}/{grade.max_score:g}")


@COMMANDS.register
@click.command()
@click.argument("assignment")
@_DB
@click.option("--partial", is_flag=True, help="Publish although some manual grades are missing.")
@_BY
def publish(assignment: str, db: Path, partial: bool, by: str | None) -> None:
    """Show students ASSIGNMENT's hidden checks and manual grades (on the course's server, in
    reports and exports)."""
    with Gradebook(db) as book:
        changes.publish(book, assignment, who(by), partial)
    console().print(f"{assignment} published: students see its hidden checks and manual grades")


def _print_history(book: Gradebook, student: str, assignment: str, out) -> None:
    table = Table(title=f"{assignment} — {student}: gradings", title_justify="left")
    for column in ("#", "graded at", "score", "content", "rubric", "harness", "isolation"):
        table.add_column(column, no_wrap=column != "isolation")
    rows = book.history(student, assignment)
    for number, (row_id, result) in enumerate(rows, start=1):
        latest = " (latest)" if number == len(rows) else ""
        table.add_row(f"{row_id}{latest}", result.finished_at[:19],
                      f"{result.score:g}/{result.max_score:g}", result.content_hash[:12],
                      result.rubric_hash[:12], result.versions.get("harness", "?"),
                      escape(result.protection))
    out.print(table)
    for change in book.override_log(student, assignment):
        state = "cleared" if change.score is None else f"{change.score:g}"
        out.print(f"  {changes.what(change.check_id)}: {state} — {escape(change.describes)}")
    extension = book.extension(student, assignment)
    if extension:
        out.print(f"  extension: {extension.days:g} day(s) by {extension.by} on "
                  f"{extension.at[:10]} ({escape(extension.reason)})")
    grade = changes.effective(book, student, assignment)
    out.print(f"[bold]effective grade {grade.score:g}/{grade.max_score:g}[/]"
              + (f" ({grade.late_days} day(s) late)" if grade.late_days else ""))


@COMMANDS.register
@click.group()
def canvas() -> None:
    """Send grades to Canvas."""


@canvas.command("push")
@click.argument("assignment")
@_DB
@click.option("--course", "course_id", type=int, required=True, help="Canvas course id.")
@click.option("--assignment", "canvas_assignment", type=int, required=True,
              help="Canvas assignment id (from its URL).")
@click.option("--url", default=lambda: os.environ.get(URL_ENV), show_default=f"${URL_ENV}",
              help="The Canvas instance, e.g. https://canvas.example.edu.")
@click.option("--match-by", type=click.Choice(MATCH_BY), default="login_id", show_default=True,
              help="The Canvas user field that equals our student id.")
@click.option("--map", "user_map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV student,canvas_user_id, instead of --match-by.")
@click.option("--yes", is_flag=True, help="Send (without it: print what would be sent).")
def canvas_push(assignment: str, db: Path, course_id: int, canvas_assignment: int,
                url: str | None, match_by: str, user_map: Path | None, yes: bool) -> None:
    """Post each effective grade of ASSIGNMENT, with a one-line comment, to a Canvas assignment.
    The token comes from $CANVAS_API_TOKEN."""
    from grader.integrations import canvas as lms

    if not url:
        raise GraderError(f"give the Canvas address with --url or ${URL_ENV}")
    with Gradebook(db) as book:
        results = book.effective(assignment)
    if not results:
        raise GraderError(f"{db} holds no results for {assignment}")
    course = lms.CanvasCourse(url, lms.token(), course_id, canvas_assignment)
    users = lms.read_user_map(user_map) if user_map else course.students(match_by)
    postings = lms.plan(results, users, course.points_possible)
    _print_postings(postings, yes)
    matched = [p for p in postings if p.user_id is not None]
    unmatched = [p.student for p in postings if p.user_id is None]
    failed = []
    for posting in matched if yes else []:
        problem = course.post(posting)
        if problem:
            failed.append(posting.student)
            console().print(f"not sent: {posting.student}: {escape(problem)}")
    counted = f"sent {len(matched) - len(failed)}" if yes else f"would send {len(matched)}"
    console().print(f"{counted} grade(s) to course {course_id}, assignment {canvas_assignment}"
                    + (f"; no Canvas user for {len(unmatched)}: {', '.join(unmatched[:10])}"
                       if unmatched else "")
                    + ("" if yes else "; add --yes to send"))
    sys.exit(1 if yes and (failed or unmatched) else 0)


def _print_postings(postings, sending: bool) -> None:
    table = Table(title="grades sent to Canvas" if sending else "dry run: grades Canvas would get",
                  title_justify="left")
    for column in ("student", "Canvas user", "grade", "comment"):
        table.add_column(column, overflow="fold")
    for posting in postings:
        table.add_row(escape(posting.student), str(posting.user_id or "— (no match)"),
                      posting.grade, escape(posting.comment))
    console().print(table)


@COMMANDS.register
@click.command()
@click.argument("assignment")
@click.argument("submissions", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the ranked index.html and a page per flagged pair.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=DEFAULT_THRESHOLD,
              show_default=True, help="Flag pairs whose score (the larger share) reaches this.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also record the flagged pairs for the class summary of grader report.")
def similarity(assignment: str, submissions: tuple[Path, ...], out: Path, threshold: float,
               db: Path | None) -> None:
    """Compare every pair of SUBMISSIONS' graded code (starter code left out) and write a
    ranked report with side-by-side pages of the pairs that look copied."""
    from grader.rubric import assignments
    from grader.intake import submission
    from grader.intake.timed import Intake
    from grader.report.similarity import write_pages
    from grader.rubric.load import load_rubric
    from grader.intake.similarity import boilerplate_source, compare, graded_source

    rubric, _ = load_rubric(assignments.rubric_path(assignment))
    paths = submission.discover(list(submissions), rubric.modules)
    sources, out_ = {}, console()
    with Intake(rubric.defaults.load_timeout_s) as intake:  # each submission under the limit
        for path in paths:
            try:
                with intake.load(path, rubric.modules, provided=rubric.provided_files) as loaded:
                    sources[loaded.student] = graded_source(loaded.modules,
                                                            set(rubric.provided_files))
            except GraderError as exc:
                out_.print(f"left out {path.name}: {escape(str(exc))}")
    if len(sources) < 2:
        raise GraderError("similarity needs at least two readable submissions")
    kit = assignments.kit_of(rubric)
    pairs = compare(sources, boilerplate_source(rubric, kit))
    write_pages(rubric.assignment, pairs, sources, out, threshold)
    flagged = [p for p in pairs if p.score >= threshold]
    if db is not None:
        with Gradebook(db) as book:
            book.record_similarity(rubric.assignment, [
                (p.a, p.b, p.share_a, p.share_b, str((out / p.page).resolve())) for p in flagged],
                now())
    for pair in pairs[:10]:
        mark = "flagged" if pair.score >= threshold else "       "
        out_.print(f"{mark} {100 * pair.score:3.0f} %  {escape(pair.a)} and {escape(pair.b)}")
    out_.print(f"{len(pairs)} pairs of {len(sources)} submissions compared; {len(flagged)} at or "
               f"above {100 * threshold:.0f} %; report {out / 'index.html'}")

