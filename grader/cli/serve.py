"""``grader serve`` (the staff web application) and ``grader staff`` (its accounts, the roster
and conflicts for splitting grading by hand)."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli import COMMANDS
from grader.console import console
from grader.errors import GraderError
from grader.stamps import who
from grader.store.csv_input import read_rows
from grader.store.gradebook import Gradebook
from grader.store.queues import Queues
from grader.store.staff import ROLES, Staff

_DB = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), required=True,
                   help="The gradebook file (created when missing).")
_URL = click.option("--url", default="http://127.0.0.1:8000", show_default=True,
                    help="The address staff open (behind a proxy: its public https:// one).")


@COMMANDS.register
@click.command()
@_DB
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (keep it local; put TLS in front for others).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--secure-cookies", is_flag=True,
              help="Send the session cookie over HTTPS only (behind a TLS proxy).")
@click.option("--accept", "accept", multiple=True, metavar="ASSIGNMENT",
              help="Take students' uploads of ASSIGNMENT (repeatable); students on the roster "
                   "sign in with links from `grader staff link STUDENT`.")
@click.option("--graders", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Uploads graded at once.")
@click.option("--per-hour", type=click.IntRange(1, 1000), default=None,
              help="At most this many uploads per student and assignment per hour.")
@click.option("--cluster", metavar="tcp://ADDRESS",
              help="Grade uploads on the Dask scheduler at ADDRESS (its workers need the "
                   "harness and the course data, as for grader grade --cluster).")
def serve(db: Path, host: str, port: int, secure_cookies: bool, accept: tuple[str, ...],
          graders: int, per_hour: int | None, cluster: str | None) -> None:
    """Serve the course's web application over the gradebook DB: for staff, the class view,
    each student's page, overrides and extensions with an audit trail, grading by hand; for
    students (with --accept), handing in and their feedback."""
    from werkzeug.serving import run_simple

    from grader.web.app import create_app, first_link, tune_collector

    with Gradebook(db):  # create it, or refuse a file that is not one, before listening
        pass
    if cluster and not cluster.startswith(("tcp://", "tls://")):
        raise GraderError(f"--cluster {cluster}: the server grades on a running Dask scheduler "
                          "(tcp://HOST:PORT); start one with dask scheduler and dask worker")
    settings = _upload_settings(db, accept, graders, per_hour, cluster) if accept else None
    base = f"http://{host}:{port}"
    link = first_link(db, base)
    out = console()
    if link:
        out.print(f"first instructor: {who(None)}; sign in once with\n  {link}\n(it works "
                  "once, for 15 minutes; grader staff link LOGIN makes another)", soft_wrap=True)
    else:
        out.print("staff sign in with a link from: grader staff link LOGIN --db " + str(db))
    if settings:
        out.print(f"taking uploads of {', '.join(accept)}; {graders} grading at once")
    tune_collector()
    try:
        run_simple(host, port, create_app(db, secure_cookies, uploads=settings), threaded=True,
                   use_reloader=False)
    finally:
        if settings and settings.graders:
            settings.graders.stop()


def _upload_settings(db: Path, accept: tuple[str, ...], graders: int, per_hour: int | None,
                     cluster: str | None = None):
    """The assignments students hand in (their rubrics loaded and prepared now: a wrong one
    stops the server before it listens) and the threads that grade the uploads."""
    from grader.batch.uploads import Accepted, UploadGraders
    from grader.prepare.expected import prepare
    from grader.rubric import assignments
    from grader.rubric.load import load_rubric
    from grader.sandbox import isolation
    from grader.web.app import UploadSettings

    accepted = {}
    for name in accept:
        path = assignments.rubric_path(name)
        rubric, rubric_hash = load_rubric(path)
        if rubric.isolation == "strict":  # refused now, not at every upload
            isolation.require_all_guarantees(rubric.assignment)
        prepare(rubric, rubric_hash)
        accepted[rubric.assignment] = Accepted(rubric, rubric_hash, path)
    return UploadSettings(accepted, per_hour,
                          UploadGraders(db, accepted, graders, cluster=cluster), graders)


@COMMANDS.register
@click.group()
def staff() -> None:
    """Course staff of the web application: add members, make sign-in links."""


@staff.command("add")
@click.argument("login")
@_DB
@click.option("--role", type=click.Choice(ROLES), default="ta", show_default=True)
@_URL
def add(login: str, db: Path, role: str, url: str) -> None:
    """Add LOGIN to the staff (or change their role) and print a one-time sign-in link."""
    with Gradebook(db), Staff(db) as members:
        members.add(login, role, who(None))
        token = members.link_token(login)
    console().print(f"{login} ({role}): {url.rstrip('/')}/login/{token}", soft_wrap=True)


@staff.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_DB
@_URL
def import_staff(csv_file: Path, db: Path, url: str) -> None:
    """Add every member of CSV_FILE (columns login,role) and print each one's sign-in link."""
    rows = read_rows(csv_file, "staff", lambda row: (row["login"].strip(), row["role"].strip()),
                     "login,role (role: instructor or ta)")
    with Gradebook(db), Staff(db) as members:
        for login, role in rows:  # every row is checked before the links go out
            if role not in ROLES:
                raise GraderError(f"{csv_file}: {login}'s role {role!r} is not one of "
                                  f"{', '.join(ROLES)}")
        for login, role in rows:
            members.add(login, role, who(None))
            console().print(f"{login} ({role}): {url.rstrip('/')}/login/"
                            f"{members.link_token(login)}", soft_wrap=True)


@staff.command("link")
@click.argument("login")
@_DB
@_URL
def link(login: str, db: Path, url: str) -> None:
    """Print a new one-time sign-in link for LOGIN (valid 15 minutes)."""
    with Staff(db) as members:
        token = members.link_token(login)
    console().print(f"{url.rstrip('/')}/login/{token}", soft_wrap=True)


@staff.command("list")
@_DB
def list_staff(db: Path) -> None:
    """Every member of staff and their role."""
    with Staff(db) as members:
        for member in members.members():
            console().print(f"{member.login}  {member.role}")


@staff.command("roster")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_DB
def roster(csv_file: Path, db: Path) -> None:
    """Record the course's students and their sections from CSV_FILE: columns student,section,
    or Canvas's gradebook export (its SIS Login ID and Section columns). Students on the roster
    may sign in to hand in (grader serve --accept); sections split manual grading."""
    sections = {student: section for student, section in read_rows(
        csv_file, "roster", _roster_row, "student,section (or Canvas's SIS Login ID,Section)")
        if student}
    with Queues(db) as queues:
        queues.set_sections(sections)
    console().print(f"{len(sections)} student(s) in {len(set(sections.values()))} section(s)")


def _roster_row(row: dict[str, str]) -> tuple[str, str]:
    """``(student, section)`` of a roster row: ours, or a Canvas gradebook export's (whose
    "Points Possible" line, and any row without a login, gives ``("", "")``: not a student)."""
    if "student" in row:
        return row["student"].strip(), row["section"].strip()
    return row["SIS Login ID"].strip(), (row.get("Section") or "").strip()


@staff.command("student-links")
@click.argument("students", nargs=-1)
@_DB
@_URL
@click.option("--valid-hours", type=click.FloatRange(0.25, 24 * 14), default=72,
              show_default=True, help="How long each link works (once).")
def student_links(students: tuple[str, ...], db: Path, url: str, valid_hours: float) -> None:
    """Print CSV (student,link) of one-time sign-in links for STUDENTS (default: everyone on
    the roster), for a mail merge; each link works once."""
    with Queues(db) as queues, Staff(db) as members:
        chosen = list(students) or sorted(queues.sections())
        if not chosen:
            raise GraderError("the roster is empty: load it first (grader staff roster)")
        rows = [(student, f"{url.rstrip('/')}/login/"
                          f"{members.link_token(student, valid_hours * 3600)}")
                for student in chosen]
    click.echo("student,link")
    for student, link in rows:
        click.echo(f"{student},{link}")


@staff.command("revoke-token")
@click.argument("student")
@_DB
def revoke_token(student: str, db: Path) -> None:
    """Revoke STUDENT's submit tokens (grader submit stops working for them until they make
    a new one on their page)."""
    from grader.store.submit_tokens import SubmitTokens

    with SubmitTokens(db) as tokens:
        count = tokens.revoke(student)
    console().print(f"revoked {count} live token(s) of {student}")


@staff.command("requeue")
@_DB
@click.option("--assignment", default=None, help="Only this assignment's uploads.")
def requeue(db: Path, assignment: str | None) -> None:
    """Queue again the uploads the server's graders gave up on (after three failures of the
    grader, not of the student's code), once what failed them is fixed."""
    from grader.store.uploads import Uploads

    with Uploads(db) as uploads:
        count = uploads.requeue_failed(assignment)
    console().print(f"{count} upload(s) queued again; a running server grades them next")


@staff.command("conflict")
@click.argument("grader")
@click.argument("student")
@_DB
def conflict(grader: str, student: str, db: Path) -> None:
    """GRADER never grades STUDENT by hand (splits move them to someone else)."""
    with Queues(db) as queues:
        queues.add_conflict(grader, student)
    console().print(f"{grader} will not grade {student}")
