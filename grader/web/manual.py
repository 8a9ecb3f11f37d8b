"""Grading the rubric's manual items by looking: an item's queue, one submission's page with
what the item shows beside its levels, the submission's files, and publishing.

A grading page is made for the keyboard (``static/grading.js``): a digit picks a level and
saves, ``n``/``p`` move to the next or previous submission, ``c`` writes a comment. Saving
moves on to the next submission of the queue not graded yet. Two graders saving the same item
never lose an update: the second is told who graded it meanwhile.
"""

from __future__ import annotations

import fnmatch
import mimetypes
from typing import Any

from flask import Blueprint, abort, make_response, redirect, request, url_for
from werkzeug.wrappers import Response

from grader.errors import GraderError
from grader.report.student import check_figures
from grader.results import SubmissionResult
from grader.stamps import now
from grader.store.manual import ManualGrade
from grader.web import security
from grader.web.pages import book, render
from grader.web.security import signed_in

manual = Blueprint("manual", __name__)
INLINE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}  # never SVG: it runs script


@manual.get("/grade/<assignment>")
@signed_in
def items(assignment: str) -> Response:
    results = book().latest(assignment)
    if not results:
        abort(404, "no results for this assignment")
    rows = []
    for item in _items(results):
        graded = sum(item["id"] in book().manual_grades(r.student, assignment) for r in results)
        first = _next_ungraded(results, item["id"], None)
        rows.append((item, graded, first))
    return render("web_items.html.j2", assignment=assignment, rows=rows, total=len(results),
                  published=book().published(assignment))


@manual.get("/grade/<assignment>/<item_id>/<student>")
@signed_in
def grade_page(assignment: str, item_id: str, student: str) -> Response:
    return _page(assignment, item_id, student)


@manual.post("/grade/<assignment>/<item_id>/<student>")
@signed_in
def save(assignment: str, item_id: str, student: str) -> Response:
    results = book().latest(assignment)
    result, item = _find(results, item_id, student)
    current = security.session()
    assert current is not None
    form = request.form
    try:
        points, level = _choice(item, form)
        seen = int(form["seen"]) if form.get("seen") else None
        book().add_manual_grade(ManualGrade(student, assignment, item_id, points, level,
                                            form.get("comment", "").strip(),
                                            current.member.login, now()), seen)
    except GraderError as exc:
        return _page(assignment, item_id, student, error=str(exc), status=409)
    following = _next_ungraded(results, item_id, student)
    if following is None:
        return redirect(url_for("manual.items", assignment=assignment))
    return redirect(url_for("manual.grade_page", assignment=assignment, item_id=item_id,
                            student=following))


@manual.get("/files/<assignment>/<student>/<path:name>")
@signed_in
def submission_file(assignment: str, student: str, name: str) -> Response:
    result = book().latest_of(student, assignment)
    files = book().files(result.content_hash) if result else {}
    if name not in files:
        abort(404, "no such file in this submission")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = make_response(files[name])
    response.headers.update(security.FILE_HEADERS)
    if kind in INLINE_IMAGES:
        response.headers["Content-Type"] = kind
    else:  # anything else is downloaded, never rendered by this site
        response.headers["Content-Type"] = "application/octet-stream"
        response.headers["Content-Disposition"] = "attachment"
    return response


@manual.post("/grade/<assignment>/publish")
@signed_in
def publish(assignment: str) -> Response:
    security.require("instructor")
    current = security.session()
    assert current is not None
    results = book().latest(assignment)
    missing = sum(item["id"] not in book().manual_grades(r.student, assignment)
                  for r in results for item in r.manual)
    if missing and request.form.get("partial") != "1":
        return render("web_message.html.j2", 409, title="Not published",
                      text=f"{missing} manual grade(s) are missing: grade them, or publish "
                           "explicitly as partial.")
    book().publish(assignment, current.member.login, now())
    return redirect(url_for("manual.items", assignment=assignment))


def _page(assignment: str, item_id: str, student: str, error: str = "",
          status: int = 200) -> Response:
    results = book().latest(assignment)
    result, item = _find(results, item_id, student)
    names = [r.student for r in results if any(i["id"] == item_id for i in r.manual)]
    index = names.index(student)
    files = book().files(result.content_hash)
    return render(
        "web_grade.html.j2", status, assignment=assignment, item=item, result=result,
        error=error, position=index + 1, total=len(names),
        previous=names[index - 1] if index > 0 else None,
        following=names[index + 1] if index + 1 < len(names) else None,
        grade=book().manual_grades(student, assignment).get(item_id),
        seen=book().manual_versions(student, assignment).get(item_id, ""),
        shown_checks=_shown_checks(result, item), shown_files=_shown_files(files, item),
        code=[(name, files[name].decode("utf-8", "replace"))
              for name in _code_files(item, files)])


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


def _next_ungraded(results: list[SubmissionResult], item_id: str, after: str | None) -> str | None:
    """The first student after ``after`` (wrapping round) whose ``item_id`` has no grade."""
    names = [r.student for r in results if any(i["id"] == item_id for i in r.manual)]
    start = names.index(after) + 1 if after in names else 0
    for student in names[start:] + names[:start]:
        if student != after and item_id not in book().manual_grades(student, results[0].assignment):
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
    return [(name, (mimetypes.guess_type(name)[0] or "") in INLINE_IMAGES) for name in files
            if any(fnmatch.fnmatch(name, g) or fnmatch.fnmatch(name.rsplit("/", 1)[-1], g)
                   for g in globs)]


def _code_files(item: dict, files: dict[str, bytes]) -> list[str]:
    modules = [s.partition(":")[2] for s in item["show"] if s.startswith("code:")]
    return [name for name in files
            if name.rsplit("/", 1)[-1].removesuffix(".py") in modules and name.endswith(".py")]
