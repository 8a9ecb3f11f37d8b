"""Canvas grade passback against a local server that implements the endpoints ``grader canvas
push`` calls, as Canvas's REST API documents them (never a real Canvas)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("canvasapi")

from grader.store.gradebook import Gradebook  # noqa: E402
from grader.results import CheckResult, Status, SubmissionResult  # noqa: E402

from conftest import run_grader  # noqa: E402

TOKEN = "test-token-123"
COURSE, ASSIGNMENT = 7, 3
STUDENTS = [{"id": 101, "name": "Ann", "login_id": "ann", "sis_user_id": "S-1"},
            {"id": 102, "name": "Bob", "login_id": "bob", "sis_user_id": "S-2"}]


class FakeCanvas(BaseHTTPRequestHandler):
    """The four Canvas endpoints used, with bearer-token auth; PUTs are recorded."""

    points_possible = 5.0
    received: list[dict] = []

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def _reply(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"errors": [{"message": "Invalid access token."}]})
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        path = urllib.parse.urlparse(self.path).path
        base = f"/api/v1/courses/{COURSE}"
        if path == base:
            return self._reply(200, {"id": COURSE, "name": "Computer Vision"})
        if path == f"{base}/assignments/{ASSIGNMENT}":
            return self._reply(200, {"id": ASSIGNMENT, "course_id": COURSE, "name": "proj1",
                                     "points_possible": self.points_possible})
        if path == f"{base}/search_users":
            return self._reply(200, STUDENTS)
        prefix = f"{base}/assignments/{ASSIGNMENT}/submissions/"
        if path.startswith(prefix) and path[len(prefix):].isdigit():
            user = int(path[len(prefix):])
            return self._reply(200, {"id": 900 + user, "user_id": user,
                                     "assignment_id": ASSIGNMENT})
        self._reply(404, {"errors": [{"message": "The specified resource does not exist."}]})

    def do_PUT(self) -> None:
        if not self._authorised():
            return
        length = int(self.headers.get("Content-Length", 0))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        user = int(self.path.rsplit("/", 1)[1])
        FakeCanvas.received.append({"user": user, **{k: v[0] for k, v in form.items()}})
        self._reply(200, {"id": 900 + user, "user_id": user, "assignment_id": ASSIGNMENT,
                          "score": form.get("submission[posted_grade]", [None])[0]})


@pytest.fixture
def canvas_url():
    FakeCanvas.received = []
    FakeCanvas.points_possible = 5.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCanvas)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def book(tmp_path) -> Path:
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as gradebook:
        for student, score in (("ann", 3.0), ("bob", 5.0), ("zoe", 1.0)):
            checks = [CheckResult("identity", "identity", "my_imfilter",
                                  Status.PASSED if score > 2 else Status.FAILED, min(score, 2), 2.0),
                      CheckResult("hybrid", "hybrid", "create_hybrid_image", Status.PASSED,
                                  max(score - 2, 0), 3.0)]
            gradebook.record(SubmissionResult(student, "h-" + student, "proj1_filtering", "r",
                                              checks, finished_at="2026-10-02T10:00:00"))
    return path


def _push(book: Path, url: str, *extra: str, token: str | None = TOKEN):
    env = {"CANVAS_API_TOKEN": token} if token is not None else {"CANVAS_API_TOKEN": ""}
    return run_grader("canvas", "push", "proj1_filtering", "--db", str(book), "--course",
                      str(COURSE), "--assignment", str(ASSIGNMENT), "--url", url, *extra,
                      env=env, timeout=120)


def test_a_dry_run_sends_nothing_and_says_what_it_would(book, canvas_url):
    proc = _push(book, canvas_url)
    assert proc.returncode == 0, proc.stderr
    assert FakeCanvas.received == []
    assert "would send 2 grade(s)" in proc.stdout and "no Canvas user for 1: zoe" in proc.stdout
    assert "add --yes to send" in proc.stdout


def test_yes_posts_each_effective_grade_with_a_comment(book, canvas_url):
    assert run_grader("override", "ann", "hybrid", "--score", "3", "--reason", "regrade",
                      "--db", str(book)).returncode == 0
    proc = _push(book, canvas_url, "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # zoe has no Canvas account
    sent = {r["user"]: r for r in FakeCanvas.received}
    assert set(sent) == {101, 102}
    assert sent[101]["submission[posted_grade]"] == "5"  # 2 + the overridden 3, in points
    assert sent[102]["submission[posted_grade]"] == "5"
    assert sent[101]["comment[text_comment]"] == (
        "Autograder (proj1_filtering): 5/5, 2 of 2 checks passed; changed by the instructor: hybrid.")
    assert "sent 2 grade(s)" in proc.stdout


def test_a_canvas_assignment_worth_other_points_gets_a_percentage(book, canvas_url, tmp_path):
    FakeCanvas.points_possible = 100.0
    mapping = tmp_path / "users.csv"
    mapping.write_text("student,canvas_user_id\nann,101\nbob,102\nzoe,102\n")
    proc = _push(book, canvas_url, "--yes", "--map", str(mapping))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grades = [(r["user"], r["submission[posted_grade]"]) for r in FakeCanvas.received]
    assert sorted(grades) == [(101, "60.00%"), (102, "100.00%"), (102, "20.00%")]


@pytest.mark.parametrize("token, sentence", [
    (None, "set CANVAS_API_TOKEN to a Canvas access token"),
    ("wrong", "cannot open course 7, assignment 3 (Unauthorized: "),
])
def test_a_missing_or_wrong_token_is_one_sentence(book, canvas_url, token, sentence):
    proc = _push(book, canvas_url, "--yes", token=token)
    assert proc.returncode == 2 and sentence in proc.stderr, proc.stdout + proc.stderr
    assert FakeCanvas.received == []
