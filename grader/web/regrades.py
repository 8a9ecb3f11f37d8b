"""Regrade requests, the staff's side: the queue of open requests, and one request beside the
submission it is about, answered with new points (an override) or a reason to reject it.

On an assignment graded anonymously only instructors see and answer its requests (a request
names its student)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request, url_for
from werkzeug.wrappers import Response

from grader.errors import GraderError
from grader.report.student import student_view
from grader.store.regrades import Regrades
from grader.web import security
from grader.web.security import signed_in
from grader.web.pages import number_field
from grader.web.state import book, render
from grader.web.viewer import Viewer

regrades = Blueprint("regrades", __name__)


@regrades.get("/regrades")
@signed_in
def waiting() -> Response:
    with Regrades(current_app.config["GRADER_DB"]) as requests:
        open_requests = [r for r in requests.waiting() if not Viewer.of(r.assignment).hidden]
    return render("web_regrades.html.j2", requests=open_requests)


@regrades.get("/regrades/<int:number>")
@signed_in
def one(number: int) -> Response:
    return _page(number)


@regrades.post("/regrades/<int:number>")
@signed_in
def answer(number: int) -> Response:
    current = security.session()
    assert current is not None  # signed_in saw to it
    form = request.form
    with Regrades(current_app.config["GRADER_DB"]) as requests:
        filed = _visible(requests, number)
        try:
            if form.get("verdict") == "accept":
                points = number_field(form, "score")
                if points is None:
                    raise GraderError("give the new points to accept it")
                requests.accept(number, book(), points, form.get("answer", ""),
                                current.member.login)
            elif form.get("verdict") == "reject":
                requests.reject(number, form.get("answer", ""), current.member.login)
            else:
                raise GraderError("choose accept or reject")
        except GraderError as exc:
            return _page(filed.id, error=str(exc), status=400)
    return redirect(url_for("regrades.waiting"))


def _page(number: int, error: str = "", status: int = 200) -> Response:
    with Regrades(current_app.config["GRADER_DB"]) as requests:
        filed = _visible(requests, number)
    result = book().effective_of(filed.student, filed.assignment, staff=True)
    if result is None:
        abort(404, "no result for this request")
    view = student_view(result, book().artifacts(result), instructor=True)
    return render("web_regrade.html.j2", status, filed=filed, v=view, r=result, error=error,
                  summary_href=url_for("regrades.waiting"),
                  check=next((c for c in result.checks if c.id == filed.check_id), None))


def _visible(requests: Regrades, number: int):
    """Request ``number`` if this member may answer it (404 when there is none)."""
    try:
        filed = requests.get(number)
    except GraderError:
        abort(404, "no such regrade request")
    if Viewer.of(filed.assignment).hidden:
        abort(403, "this assignment is graded anonymously: its requests are the instructors'")
    return filed

