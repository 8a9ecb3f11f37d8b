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

import fnmatch
import mimetypes
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, make_response, redirect, request, url_for
from werkzeug.wrappers import Response

from grader.errors import GraderError
from grader.report.student import check_figures
from grader.results import SubmissionResult
from grader.stamps import now
from grader.store.manual import ManualGrade
from grader.store.staff import Member
from grader.web import security
from grader.web.security import signed_in
from grader.web.state import book, queues, render

manual = Blueprint("manual", __name__)
INLINE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}  # never SVG: it runs script


@dataclass(frozen=True)
class Viewer:
    """What one member may see of one assignment's manual grading, and under which names."""

    member: Member
    assignment: str
    hidden: bool  # a TA on an anonymous assignment: pseudonyms, and their own queue only

    @classmethod
    def of(cls, assignment: str) -> Viewer:
        current = security.session()
        assert current is not None  # signed_in saw to it
        member = current.member
        return cls(member, assignment, not member.instructor and queues().anonymous(assignment))

    def name(self, student: str) -> str:
        return queues().pseudonym(self.assignment, student) if self.hidden else student

    def student(self, shown: str, students: list[str]) -> str:
        """The student a page's address names (a pseudonym for a hidden viewer)."""
        for student in students:
            if self.name(student) == shown:
                return student
        abort(404, "no such submission")

    def queue(self, item_id: str, students: list[str]) -> list[str]:
        """The submissions of ``item_id`` this member grades: their share once the item is
        split, everyone's before (an instructor always sees everyone's)."""
        given = queues().graders(self.assignment, item_id)
        if self.member.instructor or not given:
            return students
        return [s for s in students if given.get(s) == self.member.login]

    def may_grade(self, item_id: str, student: str) -> bool:
        given = queues().graders(self.assignment, item_id)
        return self.member.instructor or not given or given.get(student) == self.member.login


@manual.get("/grade/<assignment>")
@signed_in
def items(assignment: str) -> Response:
    results = book().latest(assignment)
    if not results:
        abort(404, "no results for this assignment")
    viewer = Viewer.of(assignment)
    rows = []
    for item in _items(results):
        mine = viewer.queue(item["id"], _students(results, item["id"]))
        graded = sum(item["id"] in book().manual_grades(s, assignment) for s in mine)
        first = _next_ungraded(viewer, item["id"], mine, None)
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
    following = _next_ungraded(viewer, item_id, viewer.queue(item_id, _students(results, item_id)),
                               student)
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
    names = sorted(book().files(result.content_hash))
    if not 1 <= number <= len(names):
        abort(404, "no such file in this submission")
    name = names[number - 1]
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = make_response(book().files(result.content_hash)[name])
    response.headers.update(security.FILE_HEADERS)
    if kind in INLINE_IMAGES:
        response.headers["Content-Type"] = kind
    else:  # anything else is downloaded, never rendered by this site
        response.headers["Content-Type"] = "application/octet-stream"
        shown_name = f"file{number}{_suffix(name)}" if viewer.hidden else name
        response.headers["Content-Disposition"] = f'attachment; filename="{_safe(shown_name)}"'
    return response


@manual.post("/grade/<assignment>/publish")
@signed_in
def publish(assignment: str) -> Response:
    viewer, results = _as_instructor(assignment)
    missing = sum(item["id"] not in book().manual_grades(r.student, assignment)
                  for r in results for item in r.manual)
    if missing and request.form.get("partial") != "1":
        return render("web_message.html.j2", 409, title="Not published",
                      text=f"{missing} manual grade(s) are missing: grade them, or publish "
                           "explicitly as partial.")
    book().publish(assignment, viewer.member.login, now())
    return redirect(url_for("manual.items", assignment=assignment))


@manual.post("/grade/<assignment>/split")
@signed_in
def split(assignment: str) -> Response:
    viewer, results = _as_instructor(assignment)
    item_id = request.form.get("item", "")
    graders = request.form.getlist("grader")
    sections = {g: [s.strip() for s in request.form.get(f"sections-{g}", "").split(",") if s.strip()]
                for g in graders}
    try:
        queues().split(assignment, item_id, _students(results, item_id), graders,
                       viewer.member.login, request.form.get("how", "random"), sections_of=sections)
    except GraderError as exc:
        return render("web_message.html.j2", 400, title="Not split", text=str(exc))
    return redirect(url_for("manual.items", assignment=assignment))


@manual.post("/grade/<assignment>/give")
@signed_in
def give(assignment: str) -> Response:
    viewer, results = _as_instructor(assignment)
    item_id, student = request.form.get("item", ""), request.form.get("student", "")
    if student not in _students(results, item_id):
        return render("web_message.html.j2", 400, title="Not given",
                      text=f"{student!r} has no submission with the item {item_id!r}")
    try:
        queues().give(assignment, item_id, student, request.form.get("grader", ""),
                      viewer.member.login)
    except GraderError as exc:
        return render("web_message.html.j2", 400, title="Not given", text=str(exc))
    return redirect(url_for("manual.items", assignment=assignment))


@manual.post("/grade/<assignment>/anonymity")
@signed_in
def anonymity(assignment: str) -> Response:
    security.require("instructor")
    queues().set_anonymous(assignment, request.form.get("anonymous") == "1",
                           Viewer.of(assignment).member.login)
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
    return render(
        "web_grade.html.j2", status, assignment=assignment, item=item, shown=viewer.name(student),
        hidden=viewer.hidden, error=error, position=index + 1, total=len(names),
        previous=viewer.name(names[index - 1]) if index > 0 else None,
        following=viewer.name(names[index + 1]) if 0 <= index < len(names) - 1 else None,
        grade=book().manual_grades(student, assignment).get(item_id),
        seen=book().manual_versions(student, assignment).get(item_id, ""),
        shown_checks=_shown_checks(result, item),
        shown_files=[(numbered[name], f"file {numbered[name]}{_suffix(name)}" if viewer.hidden
                      else name, inline) for name, inline in _shown_files(files, item)],
        code=[(f"file {numbered[name]}{_suffix(name)}" if viewer.hidden else name,
               files[name].decode("utf-8", "replace")) for name in _code_files(item, files)])


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


def _next_ungraded(viewer: Viewer, item_id: str, names: list[str], after: str | None) -> str | None:
    """The first of ``names`` after ``after`` (wrapping round) whose ``item_id`` has no grade."""
    start = names.index(after) + 1 if after in names else 0
    for student in names[start:] + names[:start]:
        if student != after and item_id not in book().manual_grades(student, viewer.assignment):
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


def _shown_checks(result: SubmissionResult, item: dict) -> list[tuple[Any, list[Any]]]:
    wanted = [s.partition(":")[2] for s in item["show"] if s.startswith("check:")]
    arrays = book().artifacts(result)
    return [(check, check_figures(check, arrays.get(check.id, {})))
            for check in result.checks if check.id in wanted]


def _shown_files(files: dict[str, bytes], item: dict) -> list[tuple[str, bool]]:
    """``(name, is an image shown inline)`` of the files the item shows (its ``file:`` globs)."""
    globs = [s.partition(":")[2] for s in item["show"] if s.startswith("file:")]
    return [(name, (mimetypes.guess_type(name)[0] or "") in INLINE_IMAGES) for name in sorted(files)
            if any(fnmatch.fnmatch(name, g) or fnmatch.fnmatch(name.rsplit("/", 1)[-1], g)
                   for g in globs)]


def _code_files(item: dict, files: dict[str, bytes]) -> list[str]:
    modules = [s.partition(":")[2] for s in item["show"] if s.startswith("code:")]
    return [name for name in sorted(files)
            if name.rsplit("/", 1)[-1].removesuffix(".py") in modules and name.endswith(".py")]


def _suffix(name: str) -> str:
    tail = name.rsplit("/", 1)[-1]
    return "." + tail.rsplit(".", 1)[1][:8] if "." in tail else ""


def _safe(name: str) -> str:
    """A file name safe inside a quoted header value."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "file"
