"""The pages of the staff application: sign-in, the class view, a student's page with the
staff's controls, and the staff list.

Every page is a report template (:mod:`grader.report`) extended with the controls; every change
goes through :mod:`grader.store.changes`, the same rules and sentences as the command line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, make_response, redirect, request, url_for
from werkzeug.wrappers import Response

from grader.errors import GraderError
from grader.report.student import student_view
from grader.report.summary import summarize
from grader.results import SubmissionResult
from grader.store import changes
from grader.store.regrades import Regrades
from grader.web import security
from grader.web.security import signed_in
from grader.web.state import book, queues, render
from grader.web.viewer import Viewer

pages = Blueprint("pages", __name__)


# --- signing in ---------------------------------------------------------------------------

@pages.get("/login")
def sign_in() -> Response:
    return render("web_message.html.j2", title="Sign in",
                  text="Sign in with the link an instructor gave you (grader staff link LOGIN "
                       "prints one).")


@pages.get("/login/<token>")
def confirm(token: str) -> Response:
    # a link previewer that fetches the link spends nothing: only the button's POST does
    return render("web_login.html.j2", token=token)


@pages.post("/login")
def redeem() -> Response:
    address = request.remote_addr or "?"
    wait = security.staff().wait_before_login(address)
    if wait > 0:
        response = render("web_message.html.j2", 429, title="Too many attempts",
                          text=f"Too many failed sign-ins from here: try again in {math.ceil(wait)} s.")
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    redeemed = security.staff().redeem(request.form.get("token", ""), address)
    if redeemed is None:
        return render("web_message.html.j2", 403, title="Sign-in failed",
                      text="This link is unknown, already used or expired: ask for a new one.")
    cookie, opened = redeemed
    home = "pages.classes" if opened.member.staff else "students.home"
    return security.set_session_cookie(redirect(url_for(home)), cookie)


@pages.post("/logout")
@security.anyone_signed_in
def sign_out() -> Response:
    security.staff().end(request.cookies[security.COOKIE])
    response = redirect(url_for("pages.sign_in"))
    response.delete_cookie(security.COOKIE)
    return response


# --- grades -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClassFilter:
    """Which students the class view shows: those whose ``check`` has ``status`` (either may
    be empty), of ``section`` (the roster's), and only those in a flagged similar pair."""

    check: str = ""
    status: str = ""
    section: str = ""
    flagged: bool = False

    @classmethod
    def from_args(cls, args: Any) -> ClassFilter:
        return cls(args.get("check", ""), args.get("status", ""), args.get("section", ""),
                   args.get("flagged") == "1")

    def keeps(self, result: SubmissionResult, sections: dict[str, str],
              flagged: set[tuple[str, str]]) -> bool:
        if self.section and sections.get(result.student) != self.section:
            return False
        if self.flagged and (result.assignment, result.student) not in flagged:
            return False
        if not (self.check or self.status):
            return True
        return any((not self.check or c.id == self.check)
                   and (not self.status or c.status.value == self.status) for c in result.checks)


@pages.get("/")
@signed_in
def classes() -> Response:
    chosen = ClassFilter.from_args(request.args)
    results = book().effective(staff=True)
    sections = queues().sections()
    flagged = {(assignment, student) for assignment, pairs in book().similar_pairs().items()
               for a, b, *_ in pairs for student in (a, b)}
    shown = [r for r in results if chosen.keeps(r, sections, flagged)]
    return render("web_summary.html.j2", summaries=summarize([_listed(r) for r in shown]),
                  similar=_similar_pairs(), to_grade=sorted({r.assignment for r in results if r.manual}),
                  chosen=chosen, checks=sorted({c.id for r in results for c in r.checks}),
                  published={a: book().published(a) for a in sorted({r.assignment for r in results})},
                  sections=sorted(set(sections.values())), total=len(results))


def _similar_pairs() -> dict[str, list[tuple]]:
    """The flagged pairs of ``grader similarity``, linked to their side-by-side pages: for
    instructors (they show two students' code); a TA sees none."""
    current = security.session()
    if current is None or not current.member.instructor:
        return {}
    return {assignment: [(a, b, share_a, share_b,
                          url_for("pages.similar_pair", assignment=assignment, number=n))
                         for n, (a, b, share_a, share_b, _) in enumerate(pairs, start=1)]
            for assignment, pairs in book().similar_pairs().items()}


@pages.get("/similarity/<assignment>/<int:number>")
@signed_in
def similar_pair(assignment: str, number: int) -> Response:
    """The side-by-side page ``grader similarity`` wrote for a flagged pair (instructors)."""
    security.require("instructor")
    pairs = book().similar_pairs().get(assignment, [])
    if not 1 <= number <= len(pairs):
        abort(404, "no such pair")
    page = Path(pairs[number - 1][4])
    if not page.is_file():
        abort(404, f"the pair's page is gone: run grader similarity again ({page.name})")
    return make_response(page.read_text(encoding="utf-8"))


def _listed(result: SubmissionResult):
    """A result's line in the class view: for a TA on an anonymous assignment, under its
    pseudonym and without a link (its page would name the student)."""
    viewer = Viewer.of(result.assignment)
    if viewer.hidden:
        return student_view(replace(result, student=viewer.name(result.student)), None, "",
                            detailed=False)
    return student_view(result, None, url_for("pages.student", assignment=result.assignment,
                                              student=result.student), detailed=False)


def _hidden_from(assignment: str) -> bool:
    """Whether the signed-in member is a TA and ``assignment`` is graded anonymously."""
    return Viewer.of(assignment).hidden


@pages.get("/students/<assignment>/<student>")
@signed_in
def student(assignment: str, student: str) -> Response:
    if _hidden_from(assignment):
        abort(403, "this assignment is graded anonymously: its students' pages are the instructors'")
    return _student_page(assignment, student, saved=request.args.get("saved", ""))


@pages.post("/students/<assignment>/<student>/override")
@signed_in
def override(assignment: str, student: str) -> Response:
    if _hidden_from(assignment):
        abort(403, "this assignment is graded anonymously: its students' pages are the instructors'")
    form = request.form
    current = security.session()
    assert current is not None  # signed_in saw to it
    try:
        changes.override(book(), student, assignment, form.get("check", ""),
                         number_field(form, "score"), form.get("reason"), current.member.login,
                         number_field(form, "out_of") or 0.0, clear=form.get("clear") == "1")
    except GraderError as exc:
        return _student_page(assignment, student, error=str(exc), status=400)
    return redirect(url_for("pages.student", assignment=assignment, student=student,
                            saved="override"))


@pages.post("/students/<assignment>/<student>/extend")
@signed_in
def extend(assignment: str, student: str) -> Response:
    security.require("instructor")
    current = security.session()
    assert current is not None
    try:
        days = number_field(request.form, "days")
        if days is None:
            raise GraderError("give the extra days (0 removes the extension)")
        changes.extend(book(), student, assignment, days, request.form.get("reason", ""),
                       current.member.login)
    except GraderError as exc:
        return _student_page(assignment, student, error=str(exc), status=400)
    return redirect(url_for("pages.student", assignment=assignment, student=student,
                            saved="extension"))


def _student_page(assignment: str, student: str, error: str = "", saved: str = "",
                  status: int = 200) -> Response:
    result = book().effective_of(student, assignment, staff=True)
    if result is None:
        abort(404, "no such student on this assignment")
    view = student_view(result, book().artifacts(result), instructor=True)
    return render("web_student.html.j2", status, v=view, r=result,
                  summary_href=url_for("pages.classes"), error=error, saved=saved,
                  action=url_for("pages.student", assignment=assignment, student=student),
                  gradings=book().history(student, assignment),
                  changes=book().override_log(student, assignment),
                  extension=book().extension(student, assignment),
                  requests=_regrade_requests(student, assignment))


def _regrade_requests(student: str, assignment: str) -> list:
    with Regrades(current_app.config["GRADER_DB"]) as requests:
        return requests.of(student, assignment)


def number_field(form: Any, name: str) -> float | None:
    """A form field as a finite number (``None`` when left empty)."""
    text = (form.get(name) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise GraderError(f"{name}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise GraderError(f"{name}: {text!r} is not a number")
    return value


# --- staff --------------------------------------------------------------------------------

@pages.get("/staff")
@signed_in
def staff_list() -> Response:
    security.require("instructor")
    return render("web_staff.html.j2", members=security.staff().members(), link="", error="")


@pages.post("/staff")
@signed_in
def staff_add() -> Response:
    security.require("instructor")
    current = security.session()
    assert current is not None
    login = request.form.get("login", "")
    try:
        security.staff().add(login, request.form.get("role", "ta"), current.member.login)
        token = security.staff().link_token(login.strip())
    except GraderError as exc:
        return render("web_staff.html.j2", 400, members=security.staff().members(), link="",
                      error=str(exc))
    return render("web_staff.html.j2", members=security.staff().members(), error="",
                  link=url_for("pages.confirm", token=token, _external=True), link_for=login)
