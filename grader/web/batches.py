"""Batches in the staff application: started from the page, watched live, cancelled.

A batch started here is ``grader grade`` run in a process of its own (its output kept beside
the gradebook); one started from a terminal shows the same, since both record their progress
in the gradebook's batch log (:mod:`grader.store.batches`). The page follows it through
server-sent events (``/batches/events``, read by ``static/progress.js``); without script it
shows the state as of its loading.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, request, url_for
from werkzeug.wrappers import Response

from grader.errors import GraderError
from grader.rubric import assignments
from grader.store.batches import BatchLog
from grader.web import security
from grader.web.security import signed_in
from grader.web.state import render

batches = Blueprint("batches", __name__)
STREAM_S = 300  # one event stream lasts this long; the browser opens the next by itself
TICK_S = 1.0


@batches.get("/batches")
@signed_in
def overview() -> Response:
    return _overview()


def _overview(error: str = "", status: int = 200) -> Response:
    """The batches page, with ``error`` said at its top."""
    with BatchLog(current_app.config["GRADER_DB"]) as log:
        recent = log.recent()
    return render("web_batches.html.j2", status, batches=recent, error=error,
                  course=assignments.course_assignments())


@batches.get("/batches/events")
@signed_in
def events() -> Response:
    db = current_app.config["GRADER_DB"]
    return Response(_stream(db, current_app.config.get("GRADER_STREAM_S", STREAM_S)),
                    mimetype="text/event-stream", headers={"Cache-Control": "no-store"})


@batches.post("/batches/start")
@signed_in
def start() -> Response:
    security.require("instructor")
    assignment = request.form.get("assignment", "").strip()
    folder = Path(request.form.get("folder", "").strip())
    db = Path(current_app.config["GRADER_DB"])
    try:
        assignments.rubric_path(assignment)
        if not folder.is_dir():
            raise GraderError(f"{folder}: no such folder on the server")
    except GraderError as exc:
        return _overview(str(exc), 400)
    regrade = request.form.get("regrade", "").strip().replace(" ", "")
    logs = db.parent / f"{db.stem}-batches"
    logs.mkdir(exist_ok=True)
    verb = "rescore" if request.form.get("rescore") == "1" else "grade"
    command = [sys.executable, "-m", "grader.cli", verb, f"--db={db}", "--quiet"]
    if regrade and verb == "grade":  # graded again: earlier results kept, a new one added
        command += ["--regrade"] if regrade == "*" else [f"--regrade={regrade}"]
    command += ["--", assignment, str(folder)]  # what the form named is never read as an option
    with open(logs / f"{time.strftime('%Y%m%d-%H%M%S')}.log", "ab") as output:
        subprocess.Popen(command, stdout=output,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    return redirect(url_for("batches.overview"))


@batches.post("/batches/<int:number>/cancel")
@signed_in
def cancel(number: int) -> Response:
    security.require("instructor")
    with BatchLog(current_app.config["GRADER_DB"]) as log:
        if not log.request_cancel(number):
            abort(409, "this batch is not running")
    return redirect(url_for("batches.overview"))


def _stream(db: Path, seconds: float) -> Iterator[str]:
    """The batches as JSON whenever they change (a comment line otherwise, to keep the
    connection), for ``seconds``."""
    yield "retry: 2000\n\n"
    last = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with BatchLog(db) as log:
            text = json.dumps([b.as_json() for b in log.recent()])
        yield f"data: {text}\n\n" if text != last else ": waiting\n\n"
        last = text
        time.sleep(TICK_S)
