"""Grading the rubric's manual items by looking: an item's queue, one submission's page with
what the item shows beside its levels, the submission's files, splitting the work among TAs,
anonymity and publishing.

A grading page is made for the keyboard (``static/grading.js``): a digit picks a level and
saves, ``n``/``p`` move to the next or previous submission, ``c`` writes a comment. Saving
moves on to the next submission of the grader's queue not graded yet. Two graders saving the
same item never lose an update: the second is told who graded it meanwhile.

While an assignment is graded anonymously a TA sees pseudonyms (in pages, addresses and file
names) and opens only the submissions given to them.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, make_response, redirect, request, url_for
from werkzeug.wrappers import Response

from grader.errors import GraderError
from grader.intake.shown_files import matches
from grader.report.student import check_figures
from grader.results import SubmissionResult
from grader.rubric.model import ManualItem
from grader.stamps import now
from grader.store import changes
from grader.store.manual import ManualGrade
from grader.web import security
from grader.web.security import signed_in
from grader.web.state import book, queues, render
from grader.web.viewer import Viewer

manual = Blueprint("manual", __name__)
INLINE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}  # never SVG: it runs script


@manual.get("/grade/<assignment>")
@signed_in
def items(assignment: str) -> Response:
    results = book().latest(assignment)
    if not results:
        abort(404, "no results for this assignment")
    viewer = Viewer.of(assignment)
    graded_items = book().graded_items(assignment)
    rows = []
    for item in _items(results):
        mine = viewer.queue(item["id"], _students(results, item["id"]))
        graded = sum(item["id"] in graded_items.get(s, ()) for s in mine)
        first = _next_ungraded(item["id"], mine, None, graded_items)
        given = queues().graders(assignment, item["id"])
        split = {g: sum(1 for s in given if given[s] == g) for g in sorted(set(given.values()))}
        rows.append((item, graded, len(mine), first and viewer.name(first), split))
    tas = [m.login for m in security.staff().members() if m.role == "ta"]
    return render("web_items.html.j2", assignment=assignment, rows=rows, tas=tas,
                  published=book().published(assignment), anonymous=queues().anonymous(assignment),
                  students=[r.student for r in results] if viewer.member.instructor else [])


@manual.get("/grade/<assignment>/<item_id>/<shown>")
@signed_in
def grade_page(assignment: str, item_id: str, shown: str) -> Response:
    return _page(assignment, item_id, shown)


@manual.post("/grade/<assignment>/<item_id>/<shown>")
@signed_in
def save(assignment: str, item_id: str, shown: str) -> Response:
    viewer = Viewer.of(assignment)
    results = book().latest(assignment)
    student = viewer.student(shown, _students(results, item_id))
    _, item = _find(results, item_id, student)
    if not viewer.may_grade(item_id, student):
        abort(403, "this submission is in another grader's queue")
    form = request.form
    try:
        points, level = _choice(item, form)
        seen = int(form["seen"]) if form.get("seen") else None
        book().add_manual_grade(ManualGrade(student, assignment, item_id, points, level,
                                            form.get("comment", "").strip(),
                                            viewer.member.login, now()), seen)
    except GraderError as exc:
        return _page(assignment, item_id, shown, error=str(exc), status=409)
    following = _next_ungraded(item_id, viewer.queue(item_id, _students(results, item_id)),
                               student, book().graded_items(assignment))
    if following is None:
        return redirect(url_for("manual.items", assignment=assignment))
    return redirect(url_for("manual.grade_page", assignment=assignment, item_id=item_id,
                            shown=viewer.name(following)))


@manual.get("/files/<assignment>/<shown>/<int:number>")
@signed_in
def submission_file(assignment: str, shown: str, number: int) -> Response:
    viewer = Viewer.of(assignment)
    results = book().latest(assignment)
    student = viewer.student(shown, [r.student for r in results])
    if viewer.hidden and not any(viewer.may_grade(i["id"], student) for r in results
                                 if r.student == student for i in r.manual):
        abort(403, "this submission is in another grader's queue")
    result = next(r for r in results if r.student == student)
    files = book().files(result.content_hash)
    names = sorted(files)
    if not 1 <= number <= len(names):
        abort(404, "no such file in this submission")
    name = names[number - 1]
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = make_response(files[name])
    response.headers.update(security.FILE_HEADERS)
    if kind in INLINE_IMAGES:
        response.headers["Content-Type"] = kind
    else:  # anything else is downloaded, never rendered by this site
        response.headers["Content-Type"] = "application/octet-stream"
        label = _label(name, number, viewer.hidden)
        response.headers["Content-Disposition"] = f'attachment; filename="{_safe(label)}"'
    return response


@manual.post("/grade/<assignment>/publish")
@signed_in
def publish(assignment: str) -> Response:
    viewer, _ = _as_instructor(assignment)
    try:
        changes.publish(book(), assignment, viewer.member.login, request.form.get("partial") == "1")
    except GraderError as exc:
        return render("web_message.html.j2", 409, title="Not published", text=f"{exc}.")
    if request.form.get("back") == "class":
        return redirect(url_for("pages.classes"))
    return redirect(url_for("manual.items", assignment=assignment))


@manual.post("/grade/<assignment>/split")
@signed_in
def split(assignment: str) -> Response:
    viewer, results = _as_instructor(assignment)
    item_id = request.form.get("item", "")
    graders = request.form.getlist("grader")
    sections = {g: [s.strip() for s in request.form.get(f"sections-{g}", "").split(",") if s.strip()]
                for g in graders}
    return _then_items(assignment, "Not split", lambda: queues().split(
        assignment, item_id, _students(results, item_id), graders, viewer.member.login,
        request.form.get("how", "random"), sections_of=sections))


@manual.post("/grade/<assignment>/give")
@signed_in
def give(assignment: str) -> Response:
    viewer, results = _as_instructor(assignment)
    item_id, student = request.form.get("item", ""), request.form.get("student", "")

    def give_it() -> None:
        if student not in _students(results, item_id):
            raise GraderError(f"{student!r} has no submission with the item {item_id!r}")
        queues().give(assignment, item_id, student, request.form.get("grader", ""),
                      viewer.member.login)

    return _then_items(assignment, "Not given", give_it)


@manual.post("/grade/<assignment>/anonymity")
@signed_in
def anonymity(assignment: str) -> Response:
    security.require("instructor")
    queues().set_anonymous(assignment, request.form.get("anonymous") == "1",
                           Viewer.of(assignment).member.login)
    return redirect(url_for("manual.items", assignment=assignment))


def _then_items(assignment: str, failed: str, change: Callable[[], object]) -> Response:
    """Make an instructor's ``change``, then back to the assignment's grading page; its
    sentence on a page titled ``failed`` (400) when it is refused."""
    try:
        change()
    except GraderError as exc:
        return render("web_message.html.j2", 400, title=failed, text=str(exc))
    return redirect(url_for("manual.items", assignment=assignment))


def _as_instructor(assignment: str) -> tuple[Viewer, list[SubmissionResult]]:
    """The signed-in instructor's view of ``assignment`` and its results (403 for a TA)."""
    security.require("instructor")
    return Viewer.of(assignment), book().latest(assignment)


def _page(assignment: str, item_id: str, shown: str, error: str = "",
          status: int = 200) -> Response:
    viewer = Viewer.of(assignment)
    results = book().latest(assignment)
    student = viewer.student(shown, _students(results, item_id))
    if viewer.hidden and not viewer.may_grade(item_id, student):
        abort(403, "this submission is in another grader's queue")
    result, item = _find(results, item_id, student)
    names = viewer.queue(item_id, _students(results, item_id))
    index = names.index(student) if student in names else -1
    files = book().files(result.content_hash)
    numbered = {name: number for number, name in enumerate(sorted(files), start=1)}
    shows = ManualItem.model_validate(item)
    return render(
        "web_grade.html.j2", status, assignment=assignment, item=item, shown=viewer.name(student),
        hidden=viewer.hidden, error=error, position=index + 1, total=len(names),
        previous=viewer.name(names[index - 1]) if index > 0 else None,
        following=viewer.name(names[index + 1]) if 0 <= index < len(names) - 1 else None,
        grade=book().manual_grades(student, assignment).get(item_id),
        seen=book().manual_versions(student, assignment).get(item_id, ""),
        shown_checks=_shown_checks(result, shows),
        shown_files=[(numbered[name], _label(name, numbered[name], viewer.hidden),
                      (mimetypes.guess_type(name)[0] or "") in INLINE_IMAGES)
                     for name in numbered if matches(name, shows.files())],
        code=[(_label(name, numbered[name], viewer.hidden), files[name].decode("utf-8", "replace"))
              for name in numbered
              if name.endswith(".py") and Path(name).stem in shows.modules()])


def _students(results: list[SubmissionResult], item_id: str) -> list[str]:
    return [r.student for r in results if any(i["id"] == item_id for i in r.manual)]


def _find(results: list[SubmissionResult], item_id: str,
          student: str) -> tuple[SubmissionResult, dict]:
    for result in results:
        if result.student == student:
            for item in result.manual:
                if item["id"] == item_id:
                    return result, item
    abort(404, "no such item or student")


def _items(results: list[SubmissionResult]) -> list[dict]:
    """The manual items of an assignment's results (the newest rubric's first)."""
    found: dict[str, dict] = {}
    for result in results:
        for item in result.manual:
            found.setdefault(item["id"], item)
    return list(found.values())


def _next_ungraded(item_id: str, names: list[str], after: str | None,
                   graded_items: dict[str, set[str]]) -> str | None:
    """The first of ``names`` after ``after`` (wrapping round) whose ``item_id`` has no grade
    (``graded_items``: student → items graded, :meth:`Gradebook.graded_items`)."""
    start = names.index(after) + 1 if after in names else 0
    for student in names[start:] + names[:start]:
        if student != after and item_id not in graded_items.get(student, ()):
            return student
    return None


def _choice(item: dict, form: Any) -> tuple[float | None, str]:
    """The points and level a grading form chose: a level's button, typed points, or clear."""
    if form.get("clear") == "1":
        return None, ""
    if form.get("level", "") != "":
        try:
            level = item["levels"][int(form["level"])]
        except (ValueError, IndexError):
            raise GraderError("no such level") from None
        return float(level["points"]), level["label"]
    text = (form.get("points") or "").strip()
    try:
        points = float(text)
    except ValueError:
        raise GraderError("pick a level, or type the points") from None
    if not 0 <= points <= float(item["points"]):
        raise GraderError(f"points {points:g} are outside 0..{item['points']:g}")
    return points, ""


def _shown_checks(result: SubmissionResult, shows: ManualItem) -> list[tuple[Any, list[Any]]]:
    arrays = book().artifacts(result)
    return [(check, check_figures(check, arrays.get(check.id, {})))
            for check in result.checks if check.id in shows.checks()]


def _label(name: str, number: int, hidden: bool) -> str:
    """How a page names the submission's file ``number``: its name, or for a hidden viewer
    ``file3.pdf`` (a file name can carry the student's)."""
    if not hidden:
        return name
    tail = name.rsplit("/", 1)[-1]
    return f"file{number}" + ("." + tail.rsplit(".", 1)[1][:8] if "." in tail else "")


def _safe(name: str) -> str:
    """A file name safe inside a quoted header value."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "file"
