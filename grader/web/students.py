"""Students on the course's server: hand in, see their place in the queue, read their feedback.

Every page here is the signed-in student's own: no route takes a student's id, so there is no
other student's id to try. An upload is checked as a batch checks a submission (size, type,
archive safety, the graded files present: :func:`grader.intake.timed.load`) before it is kept,
and refused with one sentence otherwise. ``grader submit`` reaches the same code through
``/api/submit/<assignment>`` with the student's submit token (:mod:`grader.store.submit_tokens`).

Feedback: the visible checks as soon as they are graded; hidden checks and items graded by hand
once an instructor publishes the assignment — never a hidden check's inputs or what the
student's code printed during one. On any check they can see, a student may ask for a regrade
(:mod:`grader.store.regrades`) and follow its answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, redirect, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from grader import workdirs
from grader.errors import GraderError
from grader.intake import timed
from grader.report.student import student_view
from grader.results import SubmissionResult
from grader.store.regrades import Regrades
from grader.store.submit_tokens import SubmitTokens
from grader.store.uploads import Upload, Uploads
from grader.web import security
from grader.web.security import student_signed_in
from grader.web.state import book, render

students = Blueprint("students", __name__)

MAX_UPLOAD_BYTES = 50 << 20  # one upload (a zip of the kit's folder is a few hundred KiB)
SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".py", ".ipynb")


@students.before_request
def _cap_uploads() -> None:
    """Uploads may be larger than a staff form, and no larger than :data:`MAX_UPLOAD_BYTES`:
    a longer body is refused (413) before it is read."""
    request.max_content_length = current_app.config.get("GRADER_MAX_UPLOAD", MAX_UPLOAD_BYTES)


# --- pages ---------------------------------------------------------------------------------

@students.get("/me")
@student_signed_in
def home() -> Response:
    return _home()


@students.post("/me/<assignment>/upload")
@student_signed_in
def upload(assignment: str) -> Response:
    try:
        kept = receive(_me(), assignment, request.files.get("file"))
    except GraderError as exc:
        return _home(error=str(exc), status=400)
    now, place = _standing(kept.id)
    return render("web_receipt.html.j2", upload=now, place=place)


@students.get("/me/<assignment>")
@student_signed_in
def feedback(assignment: str) -> Response:
    return _feedback(assignment)


@students.post("/me/<assignment>/regrade")
@student_signed_in
def regrade(assignment: str) -> Response:
    shown, _ = _shown(assignment)
    with Regrades(current_app.config["GRADER_DB"]) as requests:
        try:
            requests.file(_me(), assignment, request.form.get("check", ""),
                          request.form.get("message", ""), {c.id for c in shown.checks})
        except GraderError as exc:
            return _feedback(assignment, error=str(exc), status=400)
    return redirect(url_for("students.feedback", assignment=assignment))


def _feedback(assignment: str, error: str = "", status: int = 200) -> Response:
    shown, held = _shown(assignment)
    visible = {c.id for c in shown.checks if c.visibility == "visible"}  # hidden: no figures
    arrays = {cid: a for cid, a in book().artifacts(shown).items() if cid in visible}
    with Regrades(current_app.config["GRADER_DB"]) as requests:
        mine = requests.of(_me(), assignment)
    return render("web_feedback.html.j2", status, v=student_view(shown, arrays), r=shown,
                  held=held, requests=mine, error=error, summary_href=url_for("students.home"))


def _shown(assignment: str) -> tuple[SubmissionResult, list]:
    """What the signed-in student may see of their grade on ``assignment`` (404: none yet)."""
    _accepted(assignment)
    result = book().effective_of(_me(), assignment)
    if result is None:
        abort(404, "nothing of yours has been graded for this assignment yet")
    return shown_to_student(result, book().published(assignment) is not None)


@students.post("/me/token")
@student_signed_in
def new_token() -> Response:
    with SubmitTokens(current_app.config["GRADER_DB"]) as tokens:
        token = tokens.issue(_me())
    return _home(token=token)


@students.post("/me/token/revoke")
@student_signed_in
def revoke_token() -> Response:
    with SubmitTokens(current_app.config["GRADER_DB"]) as tokens:
        tokens.revoke(_me())
    return _home()


# --- grader submit -------------------------------------------------------------------------

@students.post("/api/submit/<assignment>")
def api_submit(assignment: str) -> Response:
    """An upload from ``grader submit``: the student is the token's; a JSON receipt."""
    student = _token_student()
    try:
        kept = receive(student, assignment, request.files.get("file"))
    except GraderError as exc:
        return _json_error(str(exc), 400)
    return jsonify(_receipt(kept.id))


@students.get("/api/uploads/<int:number>")
def api_upload(number: int) -> Response:
    """Where one of the token's student's uploads stands (another's: 404, as a missing one)."""
    student = _token_student()
    with Uploads(current_app.config["GRADER_DB"]) as uploads:
        try:
            kept = uploads.get(number)
        except GraderError:
            kept = None
    if kept is None or kept.student != student:
        return _json_error(f"you have no upload number {number}", 404)
    return jsonify(_receipt(number))


# --- handing in ------------------------------------------------------------------------------

def receive(student: str, assignment: str, file: FileStorage | None) -> Upload:
    """Check ``file`` as a batch would check the submission and keep it in the queue.

    Raises
    ------
    GraderError
        One sentence: no file, a type the course does not take, an archive refused by the
        intake's rules, none of the graded files in it, or too many uploads this hour.
    """
    accepted = _accepted(assignment)
    name = Path((file.filename or "") if file else "").name
    if file is None or not name:
        raise GraderError("choose a file to upload")
    if not name.lower().endswith(SUFFIXES):
        raise GraderError(f"{name}: upload a .zip of your folder, or a .py or .ipynb file")
    data = file.read()
    _check_loads(data, name, accepted)
    with Uploads(current_app.config["GRADER_DB"]) as uploads:
        kept = uploads.receive(student, assignment, name, data,
                               per_hour=current_app.config.get("GRADER_PER_HOUR"))
    graders = current_app.config.get("GRADER_UPLOAD_GRADERS")
    if graders is not None:
        graders.wake()
    return kept


def _check_loads(data: bytes, name: str, accepted: Any) -> None:
    """Load the upload as the grading will (under the rubric's time limit), then drop it."""
    folder = workdirs.make("grader-received-")
    try:
        (folder / name).write_bytes(data)
        rubric = accepted.rubric
        loaded = timed.load(folder / name, rubric.modules, rubric.defaults.load_timeout_s,
                            student="upload", provided=rubric.provided_files)
        missing, found = loaded.missing, loaded.modules
        loaded.cleanup()
    finally:
        workdirs.remove(folder)
    if not found:
        raise GraderError(f"{name} holds none of the files this assignment grades "
                          f"({', '.join(m + '.py' for m in missing)})")


def shown_to_student(result: SubmissionResult, published: bool) -> tuple[SubmissionResult, list]:
    """What the student may see of ``result`` (the effective one: manual grades are held until
    published), and the checks held back until the assignment is published."""
    if published:
        return result, []
    return result.without_hidden(), [c for c in result.checks if c.visibility != "visible"]


# --- helpers -------------------------------------------------------------------------------

def _home(error: str = "", token: str = "", status: int = 200) -> Response:
    student = _me()
    config = current_app.config
    with Uploads(config["GRADER_DB"]) as uploads, SubmitTokens(config["GRADER_DB"]) as tokens:
        rows = {name: [(u, _place(u, uploads)) for u in uploads.of(student, name)]
                for name in sorted(_all_accepted())}
        has_token = tokens.has_live(student)
    graded = {name: book().latest_of(student, name) is not None for name in rows}
    return render("web_me.html.j2", status, assignments=_all_accepted(), rows=rows,
                  graded=graded, error=error, token=token, has_token=has_token,
                  server=request.url_root.rstrip("/"),
                  max_mib=config.get("GRADER_MAX_UPLOAD", MAX_UPLOAD_BYTES) >> 20)


def _place(upload: Upload, uploads: Uploads):
    """Where ``upload`` stands in the queue (``None`` once it is no longer waiting)."""
    if upload.state != "queued":
        return None
    return uploads.place(upload.id, current_app.config.get("GRADER_GRADER_COUNT", 1))


def _standing(number: int) -> tuple[Upload, Any]:
    """Upload ``number`` as it is now (a grader may have taken it meanwhile) and its place."""
    with Uploads(current_app.config["GRADER_DB"]) as uploads:
        upload = uploads.get(number)
        return upload, _place(upload, uploads)


def _receipt(number: int) -> dict[str, Any]:
    upload, place = _standing(number)
    return {"upload": upload.id, "assignment": upload.assignment, "name": upload.name,
            "sha256": upload.sha256, "size": upload.size, "received_at": upload.received_at,
            "state": upload.state, "score": upload.shown_score, "max_score": upload.shown_max,
            "ahead": place.ahead if place else None, "eta_s": place.eta_s if place else None,
            "message": upload.message}


def _me() -> str:
    current = security.session()
    assert current is not None  # student_signed_in saw to it
    return current.member.login


def _all_accepted() -> dict[str, Any]:
    return current_app.config.get("GRADER_ACCEPTED") or {}


def _accepted(assignment: str) -> Any:
    accepted = _all_accepted().get(assignment)
    if accepted is None:
        abort(404, f"this server takes no uploads for {assignment!r}")
    return accepted


def _token_student() -> str:
    """The student of the request's submit token (``Authorization: Bearer``), or 401."""
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer "):] if header.startswith("Bearer ") else None
    with SubmitTokens(current_app.config["GRADER_DB"]) as tokens:
        student = tokens.student_of(token)
    if student is None:
        abort(_json_error("this submit token is unknown or revoked: make a new one on your "
                          "page of the course's server", 401))
    return student


def _json_error(text: str, status: int) -> Response:
    response = jsonify({"error": text})
    response.status_code = status
    return response
