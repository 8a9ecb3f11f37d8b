"""Students on the course's server, attacked through its routes: handing in, the queue, feedback
held until published, submit tokens, and no way into another student's work or the staff's
pages (grader/web/students.py, grader/batch/uploads.py)."""

from __future__ import annotations

import html
import io
import re
import threading
import zipfile
from pathlib import Path

import pytest

from grader.batch.uploads import Accepted, UploadGraders
from grader.prepare.expected import prepare
from grader.rubric.load import load_rubric
from grader.store.gradebook import Gradebook
from grader.store.queues import Queues
from grader.store.staff import Staff
from grader.store.uploads import Uploads
from grader.web.app import UploadSettings, create_app

HERE = Path(__file__).parent
CORRECT = (HERE / "hostile" / "submissions" / "control_correct" / "student_code.py").read_bytes()
WRONG = CORRECT.replace(b"def my_imfilter", b"def _unused_my_imfilter", 1)
# convolution for correlation: right on the symmetric identity kernel, wrong on the hidden ones
FLIPPED = CORRECT.replace(b"kernel = np.asarray(filter, dtype=np.float64)",
                          b"kernel = np.asarray(filter, dtype=np.float64)[::-1, ::-1]", 1)
RUBRIC = """
assignment: web_hand_in
title: "Filtering, handed in on the server"
reference: reference.filtering
defaults: {timeout_s: 10, memory_mb: 512, import_timeout_s: 20}
checks:
  - id: identity
    name: "my_imfilter: identity kernel"
    kind: numeric
    target: student_code:my_imfilter
    points: 2
    compare: {region: full, atol: 1.0e-6, rtol: 0, outputs: [filtered_image]}
    cases:
      - args:
          image: {random: {shape: [12, 10, 3], seed: 1}}
          filter: {kernel: {name: identity, size: 3}}
  - id: secret_kernels
    name: "my_imfilter: kernels the kit does not show"
    kind: numeric
    target: student_code:my_imfilter
    points: 3
    visibility: hidden
    compare: {region: interior, margin_from: filter, atol: 1.0e-4, rtol: 1.0e-4, outputs: [filtered_image]}
    cases:
      - args:
          image: {random: {shape: [15, 13, 3], seed: 2}}
          filter: {kernel: {name: random, size: [3, 5], seed: 3}}
"""


@pytest.fixture(scope="module")
def accepted(tmp_path_factory) -> dict[str, Accepted]:
    folder = tmp_path_factory.mktemp("assignment")
    (folder / "rubric.yaml").write_text(RUBRIC)
    rubric, rubric_hash = load_rubric(folder / "rubric.yaml")
    prepare(rubric, rubric_hash)
    return {rubric.assignment: Accepted(rubric, rubric_hash, folder / "rubric.yaml")}


class Server:
    """The application with two students on the roster, an instructor, and one upload grader
    whose gradings a test can wait for."""

    def __init__(self, db: Path, accepted: dict[str, Accepted], max_upload: int | None = None):
        self.db = db
        with Gradebook(db), Queues(db) as queues, Staff(db) as staff:
            queues.set_sections({"ada": "A", "bob": "B"})
            staff.add("prof", "instructor", by="test")
        self.ended: list = []  # every grading that ended, graded or not
        self.graded = threading.Semaphore(0)
        self.graders = UploadGraders(db, accepted, 1, on_done=self._ended)
        self.app = create_app(db, uploads=UploadSettings(accepted, None, self.graders, 1))
        if max_upload:
            self.app.config["GRADER_MAX_UPLOAD"] = max_upload

    def client(self, login: str):
        with Staff(self.db) as staff:
            token = staff.link_token(login)
        client = self.app.test_client()
        response = client.post("/login", data={"token": token})
        assert response.status_code == 302
        return client, response.headers["Location"]

    def _ended(self, upload) -> None:
        self.ended.append(upload)
        self.graded.release()

    def wait_graded(self, count: int = 1) -> None:
        for _ in range(count):
            assert self.graded.acquire(timeout=120), "an upload was not graded in 120 s"
            last = self.ended[-1]
            assert last.state == "graded", f"upload {last.id} {last.state}: {last.message}"


@pytest.fixture
def server(tmp_path, accepted):
    made = Server(tmp_path / "book.sqlite", accepted)
    yield made
    made.graders.stop()


def csrf_of(client, path: str = "/me") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def hand_in(client, data: bytes, name: str = "student_code.py", csrf: str | None = None):
    return client.post("/me/web_hand_in/upload", content_type="multipart/form-data",
                       data={"csrf": csrf or csrf_of(client), "file": (io.BytesIO(data), name)})


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_student_hands_in_then_sees_visible_feedback_and_hidden_after_publishing(server):
    ada, home = server.client("ada")
    assert home == "/me"
    receipt = hand_in(ada, CORRECT)
    page = receipt.get_data(as_text=True)
    assert receipt.status_code == 200 and "Received" in page and "the time that counts" in page
    server.wait_graded()
    mine = ada.get("/me").get_data(as_text=True)
    assert "graded" in mine and "2/2" in mine  # the visible check only: 3 hidden points unsaid
    feedback = ada.get("/me/web_hand_in").get_data(as_text=True)
    assert "my_imfilter: identity kernel" in feedback
    assert "kernels the kit does not show" not in feedback and "secret_kernels" not in feedback
    assert "1 more check(s) worth 3 point(s)" in feedback
    with Gradebook(server.db) as book:
        book.publish("web_hand_in", "prof", "2026-12-08T00:00:00+00:00")
        assert book.effective_of("ada", "web_hand_in").score == 5
        assert book.effective_of("ada", "web_hand_in").submitted_at  # the server's receive time
    published = ada.get("/me/web_hand_in").get_data(as_text=True)
    assert "kernels the kit does not show" in published and "more check(s)" not in published


def test_a_newer_upload_replaces_the_waiting_one_and_the_page_says_where_it_stands(
        tmp_path, accepted):
    server = Server(tmp_path / "book.sqlite", accepted)
    server.graders.stop()  # nothing is graded: the queue stands still
    ada, _ = server.client("ada")
    bob, _ = server.client("bob")
    hand_in(ada, WRONG)
    hand_in(bob, CORRECT)
    hand_in(ada, CORRECT)
    ada_page = ada.get("/me").get_data(as_text=True)
    assert "replaced by a newer upload" in ada_page and "queued: 1 ahead" in ada_page
    assert "queued: 0 ahead" in bob.get("/me").get_data(as_text=True)


def test_an_upload_is_checked_as_a_batch_checks_it_before_it_is_kept(server):
    ada, _ = server.client("ada")
    refused = {
        "run.exe": (b"MZ", "upload a .zip of your folder, or a .py or .ipynb file"),
        "notes.zip": (zipped({"notes.txt": b"hi"}), "holds none of the files this assignment "
                                                       "grades (student_code.py)"),
        "slip.zip": (zipped({"../../evil.py": b"x = 1"}),
                     "would be written outside the submission folder; refusing the archive"),
    }
    for name, (data, sentence) in refused.items():
        response = hand_in(ada, data, name)
        text = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 400 and sentence in text, (name, text[-500:])
    assert hand_in(ada, b"", "").status_code == 400
    with Uploads(server.db) as uploads:
        assert uploads.of("ada") == [] and not uploads.folder.exists()


def test_an_upload_over_the_cap_is_refused_before_it_is_read(tmp_path, accepted):
    server = Server(tmp_path / "book.sqlite", accepted, max_upload=4096)
    try:
        ada, _ = server.client("ada")
        csrf = csrf_of(ada)
        assert hand_in(ada, b"#" * 10_000, csrf=csrf).status_code == 413
        assert hand_in(ada, CORRECT, csrf=csrf).status_code == 200
    finally:
        server.graders.stop()


def test_students_and_staff_never_reach_each_others_pages(server):
    ada, _ = server.client("ada")
    prof, _ = server.client("prof")
    for rule in server.app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith(("/login", "/api/")) \
                or rule.rule == "/logout":
            continue
        path = re.sub(r"<int:\w+>", "1", rule.rule)
        path = re.sub(r"<(\w+:)?\w+>", "web_hand_in", path)
        student_page = rule.endpoint.startswith("students.")
        visitor = prof if student_page else ada
        for method in rule.methods & {"GET", "POST"}:
            response = visitor.open(path, method=method)
            if rule.rule == "/" and not student_page:  # a student's home is their own page
                assert response.headers.get("Location") == "/me"
                continue
            assert response.status_code == 403, (method, path)
        if student_page:  # the student is always the session's: no route names one
            assert "student" not in rule.arguments, rule.rule


def test_a_submit_token_hands_in_for_its_student_only_until_revoked(server):
    ada, _ = server.client("ada")
    bob, _ = server.client("bob")
    page = ada.post("/me/token", data={"csrf": csrf_of(ada)}).get_data(as_text=True)
    token = re.search(r'<pre id="new-token">([^<]+)</pre>', page).group(1)
    assert token.startswith("gst_") and token not in ada.get("/me").get_data(as_text=True)
    stored = b"".join(p.read_bytes() for p in server.db.parent.glob(server.db.name + "*") if p.is_file())
    assert token.encode() not in stored  # only its hash
    headers = {"Authorization": f"Bearer {token}"}
    receipt = ada.post("/api/submit/web_hand_in", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(CORRECT), "student_code.py")}).get_json()
    assert receipt["assignment"] == "web_hand_in" and len(receipt["sha256"]) == 64
    bobs = hand_in(bob, CORRECT)
    assert bobs.status_code == 200
    with Uploads(server.db) as uploads:
        bob_upload = uploads.of("bob")[0].id
    # another student's upload reads as a missing one
    other = ada.get(f"/api/uploads/{bob_upload}", headers=headers)
    assert other.status_code == 404 and "bob" not in other.get_data(as_text=True)
    assert ada.get(f"/api/uploads/{receipt['upload']}", headers=headers).status_code == 200
    ada.post("/me/token/revoke", data={"csrf": csrf_of(ada)})
    refused = ada.post("/api/submit/web_hand_in", headers=headers,
                       content_type="multipart/form-data",
                       data={"file": (io.BytesIO(CORRECT), "student_code.py")})
    assert refused.status_code == 401 and "revoked" in refused.get_json()["error"]
    server.wait_graded(2)


@pytest.mark.slow  # exports a kit (a wheel) and grades proj1 in full
def test_grader_submit_from_an_exported_kit_reaches_a_real_server(tmp_path, monkeypatch, caplog):
    from click.testing import CliRunner
    from werkzeug.serving import make_server

    from grader.cli import cli
    from grader.kit import export
    from grader.rubric import assignments

    db = tmp_path / "book.sqlite"
    path = assignments.rubric_path("proj1_filtering")
    rubric, rubric_hash = load_rubric(path)
    prepare(rubric, rubric_hash)
    accepted = {rubric.assignment: Accepted(rubric, rubric_hash, path)}
    with Gradebook(db), Queues(db) as queues:
        queues.set_sections({"ada": "A"})
    graders = UploadGraders(db, accepted, 1)
    http = make_server("127.0.0.1", 0, create_app(db, uploads=UploadSettings(
        accepted, None, graders, 1)), threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        kit = tmp_path / "kit"
        export("proj1_filtering", kit, server=f"http://127.0.0.1:{http.server_port}")
        example = assignments.rubric_path("proj1_filtering").parent / "examples" / "alice_correct"
        (kit / "student_code.py").write_bytes((example / "student_code.py").read_bytes())
        from grader.store.submit_tokens import SubmitTokens
        with SubmitTokens(db) as tokens:
            token = tokens.issue("ada")
        monkeypatch.setenv("GRADER_SUBMIT_TOKEN", token)
        monkeypatch.chdir(kit)
        caplog.set_level("DEBUG")  # the server's request log: every request line it writes
        result = CliRunner().invoke(cli, ["submit", "--wait"])
        assert "POST /api/submit/proj1_filtering" in caplog.text and token not in caplog.text
        assert result.exit_code == 0, result.output
        assert "received submission.zip for proj1_filtering at" in result.output
        with Gradebook(db) as book:  # checks on the course's data count only where it is
            shown = book.latest_of("ada", "proj1_filtering").without_hidden()
        assert shown.score == shown.max_score > 0
        assert f"graded: {shown.score:g}/{shown.max_score:g} (visible checks" in result.output, \
            result.output
        with Uploads(db) as uploads:
            kept = uploads.of("ada")[0]
        with zipfile.ZipFile(uploads.file(kept.sha256)) as archive:
            names = archive.namelist()
        assert "student_code.py" in names
        assert not any(n.startswith(("grader_kit/", "wheels/")) for n in names), names
    finally:
        http.shutdown()
        graders.stop()


def test_a_regrade_request_is_answered_by_the_staff_and_the_export_carries_it(server, tmp_path):
    from grader.export import FORMATS

    ada, _ = server.client("ada")
    hand_in(ada, FLIPPED)
    server.wait_graded()

    def file(check: str, message: str):
        return ada.post("/me/web_hand_in/regrade", data={
            "csrf": csrf_of(ada, "/me/web_hand_in"), "check": check, "message": message})

    # a hidden check is not theirs to ask about before it is published
    hidden = file("secret_kernels", "please")
    assert hidden.status_code == 400 and "no check 'secret_kernels' that you can see" in \
        html.unescape(hidden.get_data(as_text=True))
    with Gradebook(server.db) as book:
        book.publish("web_hand_in", "prof", "2026-12-08T00:00:00+00:00")
        assert book.effective_of("ada", "web_hand_in").score == 2  # the hidden check failed
    assert file("secret_kernels", "my padding is <b>right</b>").status_code == 302
    again = file("secret_kernels", "and again")
    assert again.status_code == 400 and "already have an open request" in \
        html.unescape(again.get_data(as_text=True))
    page = ada.get("/me/web_hand_in").get_data(as_text=True)
    assert "<b class=\"state\">open</b>" in page and "&lt;b&gt;right&lt;/b&gt;" in page
    # a TA answers from the queue: accepted with 2 points, recorded as an override
    with Staff(server.db) as staff:
        staff.add("tia", "ta", by="prof")
    ta, _ = server.client("tia")
    queue = ta.get("/regrades").get_data(as_text=True)
    number = int(re.search(r'id="regrade-(\d+)"', queue).group(1))
    request_page = ta.get(f"/regrades/{number}").get_data(as_text=True)
    assert "&lt;b&gt;right&lt;/b&gt;" in request_page and "<b>right</b>" not in request_page
    csrf = re.search(r'name="csrf" value="([^"]+)"', request_page).group(1)
    too_many = ta.post(f"/regrades/{number}", data={"csrf": csrf, "verdict": "accept",
                                                    "score": "9", "answer": "fair"})
    assert too_many.status_code == 400 and "outside 0..3" in too_many.get_data(as_text=True)
    accepted = ta.post(f"/regrades/{number}", data={"csrf": csrf, "verdict": "accept",
                                                   "score": "2", "answer": "padding was fine"})
    assert accepted.status_code == 302 and "No open requests" in ta.get("/regrades").get_data(as_text=True)
    page = ada.get("/me/web_hand_in").get_data(as_text=True)
    assert "<b class=\"state\">accepted</b> — padding was fine (now 2 points)" in page
    prof, _ = server.client("prof")  # the staff's page of the student keeps the history
    history = prof.get("/students/web_hand_in/ada").get_data(as_text=True)
    assert f"#{number}</a> on secret_kernels" in history and "accepted by tia" in history
    with Gradebook(server.db) as book:
        graded = book.effective_of("ada", "web_hand_in")
        assert {c.id: c.score for c in graded.checks}["secret_kernels"] == 2
        log = book.override_log("ada", "web_hand_in")
        assert log[-1].by == "tia" and f"regrade request #{number}" in log[-1].reason
        out = tmp_path / "canvas.csv"
        FORMATS["canvas"](book.effective("web_hand_in"), out)
    assert out.read_text().splitlines()[-1].split(",")[-1] == "4"  # identity 2 + the 2 granted


def test_a_notebook_is_handed_in_and_graded_like_a_module(server):
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Project 1: my filter"),
        nbformat.v4.new_code_cell(CORRECT.decode()),
        nbformat.v4.new_code_cell("my_imfilter(np.zeros((5, 5, 3)), np.ones((3, 3)))")])
    ada, _ = server.client("ada")
    receipt = hand_in(ada, nbformat.writes(notebook).encode(), "student_code.ipynb")
    assert receipt.status_code == 200, receipt.get_data(as_text=True)[-400:]
    server.wait_graded()
    assert "2/2" in ada.get("/me").get_data(as_text=True)


def test_the_roster_loads_from_canvas_gradebook_export(tmp_path):
    from click.testing import CliRunner

    from grader.cli import cli

    export = tmp_path / "canvas.csv"
    export.write_text("Student,ID,SIS User ID,SIS Login ID,Section,proj1 (123)\n"
                      "    Points Possible,,,,,22\n"
                      "\"Lovelace, Ada\",101,9001,ada,CS4476 A,\n"
                      "\"Babbage, Charles\",102,9002,cbabbage,CS4476 B,\n"
                      "Test Student,999,,,,\n")
    db = tmp_path / "book.sqlite"
    result = CliRunner().invoke(cli, ["staff", "roster", str(export), "--db", str(db)])
    assert result.exit_code == 0 and "2 student(s) in 2 section(s)" in result.output, result.output
    with Queues(db) as queues:
        assert queues.sections() == {"ada": "CS4476 A", "cbabbage": "CS4476 B"}
    with Staff(db) as staff:
        assert staff.person("cbabbage").role == "student"


@pytest.mark.slow  # starts a Dask cluster
def test_uploads_are_graded_on_a_dask_cluster_when_the_server_names_one(tmp_path, accepted):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        db = tmp_path / "book.sqlite"
        with Gradebook(db), Queues(db) as queues:
            queues.set_sections({"ada": "A"})
        done = threading.Semaphore(0)
        ended: list = []
        graders = UploadGraders(db, accepted, 1, on_done=lambda u: (ended.append(u), done.release()),
                                cluster=cluster.scheduler_address)
        try:
            with Uploads(db) as uploads:
                uploads.receive("ada", "web_hand_in", "student_code.py", CORRECT)
            graders.wake()
            assert done.acquire(timeout=180)
            assert ended[0].state == "graded" and ended[0].shown_score == 2, ended[0].message
        finally:
            graders.stop()
