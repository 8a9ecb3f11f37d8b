"""Batches watched live: ``grader grade`` records its progress in the gradebook, the staff
application streams it, starts a batch from the page and cancels one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from rich.console import Console

from conftest import run_grader
from grader.batch.grade import BatchOptions, grade_batch
from grader.batch.progress import BatchProgress
from grader.intake import submission
from grader.rubric.load import load_rubric
from grader.store.batches import BatchLog
from grader.store.gradebook import Gradebook
from test_tutorial import tutorial_files
from test_web import csrf_of, sign_in

pytestmark = pytest.mark.slow  # grades the tutorial's assignment several times


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """The tutorial's assignment folder (three example submissions)."""
    for name, body in tutorial_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    return tmp_path / "toy_stretch"


def test_the_log_counts_and_a_vanished_batch_reads_stopped(tmp_path):
    db = tmp_path / "book.sqlite"
    with BatchLog(db) as log:
        running = log.start("a", 4, "prof", pid=1)  # init: alive
        log.advance(running, short=True, error=False)
        gone = log.start("a", 2, "prof", pid=2 ** 22 + 12345)  # no such process
        finished = log.start("a", 1, "prof", pid=1)
        log.advance(finished, short=False, error=False)
        log.finish(finished, "done")
        states = {b.id: (b.state, b.done, b.short) for b in log.recent()}
        assert states == {running: ("running", 1, 1), gone: ("stopped", 0, 0),
                          finished: ("done", 1, 0)}
        assert log.recent()[-1].eta_s is not None and log.request_cancel(running)
        assert not log.request_cancel(finished) and log.cancel_requested(running)


def test_grader_grade_records_its_batch(toy, tmp_path):
    db = tmp_path / "book.sqlite"
    proc = run_grader("grade", str(toy), str(toy / "examples"), "--db", str(db), "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with BatchLog(db) as log:
        (batch,) = log.recent()
    assert (batch.assignment, batch.total, batch.done, batch.short, batch.state) == (
        "toy_stretch", 3, 3, 2, "done")


def test_a_cancelled_batch_starts_no_new_submission(toy, tmp_path):
    rubric_file = toy / "rubric.yaml"
    rubric, digest = load_rubric(rubric_file)
    paths = submission.discover([toy / "examples"], rubric.modules)
    with Gradebook(tmp_path / "book.sqlite") as book:
        results = grade_batch(paths, rubric, digest, rubric_file, book, BatchOptions(workers=1),
                              BatchProgress(len(paths), Console(quiet=True), quiet=True),
                              cancelled=lambda: True)
        assert len(results) == 1 and len(book.latest()) == 1


def start_from_the_page(client, toy: Path, **fields: str):
    """Start a batch of the toy's examples from the batches page; the newest batch once over."""
    db = client.application.config["GRADER_DB"]
    with BatchLog(db) as log:
        before = log.recent()[0].id if log.recent() else 0
    assert client.post("/batches/start", data={
        "csrf": csrf_of(client, "/batches"), "assignment": str(toy),
        "folder": str(toy / "examples"), **fields}).status_code == 302
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with BatchLog(db) as log:
            newest = log.recent()[0] if log.recent() else None
        if newest is not None and newest.id > before and newest.state != "running":
            return newest
        time.sleep(0.5)
    raise AssertionError("the batch started from the page did not finish")


# --- in the application -------------------------------------------------------------------

@pytest.fixture
def app(tmp_path):
    from grader.web.app import create_app

    db = tmp_path / "book.sqlite"
    Gradebook(db).close()
    app = create_app(db)
    app.config["GRADER_STREAM_S"] = 0.5
    return app


def test_the_event_stream_carries_the_batches(app):
    db = app.config["GRADER_DB"]
    with BatchLog(db) as log:
        log.start("toy_stretch", 3, "prof", pid=1)
    client = sign_in(app, db)
    response = client.get("/batches/events")
    assert response.mimetype == "text/event-stream"
    events = [line[6:] for line in response.get_data(as_text=True).splitlines()
              if line.startswith("data: ")]
    assert json.loads(events[0])[0]["total"] == 3
    assert app.test_client().get("/batches/events").status_code == 302  # signed in only


def test_an_instructor_starts_a_batch_from_the_page_and_it_finishes(app, toy):
    db = app.config["GRADER_DB"]
    prof = sign_in(app, db)
    token = csrf_of(prof, "/batches")
    bad = prof.post("/batches/start", data={"csrf": token, "assignment": str(toy),
                                            "folder": "/no/such/folder"})
    assert bad.status_code == 400 and "no such folder on the server" in bad.get_data(as_text=True)
    newest = start_from_the_page(prof, toy)
    assert newest.state == "done" and newest.done == 3
    ta = sign_in(app, db, "ta1", "ta")
    assert ta.post("/batches/start", data={"csrf": csrf_of(ta, "/batches"), "assignment": str(toy),
                                           "folder": str(toy / "examples")}).status_code == 403
    assert prof.post(f"/batches/{newest.id}/cancel",
                     data={"csrf": token}).status_code == 409  # it is over


def test_a_student_is_graded_again_from_the_page(app, toy):
    db = app.config["GRADER_DB"]
    assert run_grader("grade", str(toy), str(toy / "examples"), "--db", str(db), "-q").returncode == 0
    assert start_from_the_page(sign_in(app, db), toy, regrade="alice").state == "done"
    with Gradebook(db) as book:
        assert len(book.history("alice")) == 2 and len(book.history("bob")) == 1


def test_a_rescore_is_started_from_the_page(app, toy):
    db = app.config["GRADER_DB"]
    assert run_grader("grade", str(toy), str(toy / "examples"), "--db", str(db), "-q").returncode == 0
    newest = start_from_the_page(sign_in(app, db), toy, rescore="1")
    assert newest.state == "done" and newest.done == 3
    logs = list((db.parent / f"{db.stem}-batches").glob("*.log"))
    assert any("re-scored 3 submission(s)" in log.read_text() for log in logs)
