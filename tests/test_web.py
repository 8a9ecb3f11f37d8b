"""The staff web application, attacked through its routes: sessions only from one-time links,
CSRF on every change, roles, escaping, rate-limited sign-in, and the same tables as the CLI."""

from __future__ import annotations

import html
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from conftest import run_grader
from grader.results import CheckResult, Status, SubmissionResult
from grader.store.gradebook import Gradebook
from grader.store.staff import FREE_FAILURES, LINK_TTL_S, SESSION_TTL_S, Staff
from grader.web.app import create_app, first_link
from grader.web.security import COOKIE, HEADERS

HOSTILE_ID = '<img src=x onerror="window.__pwned=1">'
HOSTILE_OUTPUT = "<script>window.__pwned = 1</script>"


class Clock:
    """Seconds that a test moves forward."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def graded(student: str, identity: float, stdout: str = "") -> SubmissionResult:
    checks = [
        CheckResult("identity", "identity kernel", "my_imfilter",
                    Status.PASSED if identity == 2 else Status.FAILED, identity, 2.0,
                    "ok" if identity == 2 else "max abs error 0.9", stdout=stdout,
                    kind="numeric", artifacts={"output": np.ones((4, 4), np.float32)}),
        CheckResult("hybrid", "hybrid image", "create_hybrid_image", Status.PASSED, 3.0, 3.0,
                    "ok", kind="numeric"),
    ]
    return SubmissionResult(student, f"hash-{student}", "proj1_filtering", "rubric-a", checks,
                            versions={"harness": "1"}, finished_at="2026-10-02T10:00:00")


@pytest.fixture
def book_path(tmp_path: Path) -> Path:
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as book:
        book.record(graded("ann", 0.0))
        book.record(graded("bob", 2.0))
        book.record(graded(HOSTILE_ID, 1.0, stdout=HOSTILE_OUTPUT))
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(book_path: Path, clock: Clock):
    return create_app(book_path, clock=clock)


def sign_in(app, book_path: Path, login: str = "prof", role: str = "instructor"):
    """A test client signed in as ``login`` through a one-time link."""
    with Staff(book_path, app.config["GRADER_CLOCK"]) as staff:
        staff.add(login, role, by="test")
        token = staff.link_token(login)
    client = app.test_client()
    response = client.post("/login", data={"token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    return client


def csrf_of(client, path: str = "/") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


# --- nobody gets in without a link -------------------------------------------------------

def test_every_page_without_a_session_goes_to_sign_in(app):
    client = app.test_client()
    open_routes = {"/login", "/login/<token>", "/static/<path:filename>"}
    for rule in app.url_map.iter_rules():
        if rule.rule in open_routes:
            continue
        path = re.sub(r"<int:\w+>", "1", rule.rule)
        path = re.sub(r"<(\w+:)?\w+>", "ann", path.replace("<assignment>", "proj1_filtering"))
        for method in rule.methods & {"GET", "POST"}:
            response = client.open(path, method=method)
            if rule.rule.startswith("/api/"):  # grader submit's: a token, never a cookie
                assert response.status_code == 401, (method, path)
                continue
            assert response.status_code == 302, (method, path)
            assert response.headers["Location"] == "/login", (method, path)


def test_a_link_signs_in_once_and_only_before_it_expires(app, book_path, clock):
    with Staff(book_path, clock) as staff:
        staff.add("prof", "instructor", by="test")
        token, late = staff.link_token("prof"), staff.link_token("prof")
    client = app.test_client()
    assert client.get(f"/login/{token}").status_code == 200  # a preview spends nothing
    assert client.post("/login", data={"token": token}).status_code == 302
    assert client.get("/").status_code == 200
    assert app.test_client().post("/login", data={"token": token}).status_code == 403  # used
    clock.now += LINK_TTL_S + 1
    assert app.test_client().post("/login", data={"token": late}).status_code == 403  # expired
    assert app.test_client().post("/login", data={"token": "guess"}).status_code == 403


def test_a_session_ends_when_it_expires_or_signs_out(app, book_path, clock):
    client = sign_in(app, book_path)
    cookie = client.get_cookie(COOKIE).value
    client.post("/logout", data={"csrf": csrf_of(client)})
    replay = app.test_client()
    replay.set_cookie(COOKIE, cookie)
    assert replay.get("/").headers["Location"] == "/login"
    other = sign_in(app, book_path)
    clock.now += SESSION_TTL_S + 1
    assert other.get("/").headers["Location"] == "/login"


def test_the_gradebook_holds_no_usable_secret(app, book_path):
    client = sign_in(app, book_path)
    cookie = client.get_cookie(COOKIE).value
    dump = "\n".join(sqlite3.connect(book_path).iterdump())
    assert cookie not in dump and "web_sessions" in dump


def test_failed_sign_ins_are_slowed_down(app, book_path):
    with Staff(book_path) as staff:
        staff.add("prof", "instructor", by="test")
        token = staff.link_token("prof")
    client = app.test_client()
    codes = [client.post("/login", data={"token": f"wrong{i}"}).status_code for i in range(100)]
    assert codes[:FREE_FAILURES] == [403] * FREE_FAILURES
    assert set(codes[FREE_FAILURES + 1:]) == {429}
    waiting = client.post("/login", data={"token": token})  # even the right link waits now
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) >= 1


# --- changes: CSRF, roles, the CLI's rules ------------------------------------------------

def test_an_override_from_the_page_is_the_clis_override(app, book_path):
    client = sign_in(app, book_path, "ta1", "ta")
    page = "/students/proj1_filtering/ann"
    response = client.post(f"{page}/override", data={
        "csrf": csrf_of(client, page), "check": "identity", "score": "1.5",
        "reason": "partial credit for the padding"})
    assert response.status_code == 302
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Override recorded" in shown and "overridden" in shown
    with Gradebook(book_path) as book:
        grade = book.effective_of("ann", "proj1_filtering")
        (logged,) = book.override_log("ann", "proj1_filtering")
    assert grade.score == 4.5 and logged.by == "ta1"
    history = run_grader("history", "ann", "--db", str(book_path))
    assert "partial credit for the padding" in history.stdout and "ta1" in history.stdout


@pytest.mark.parametrize("form, sentence", [
    ({"check": "identity", "score": "3", "reason": "x"}, "is outside 0..2"),
    ({"check": "identity", "score": "1"}, "give a --reason"),
    ({"check": "nosuch", "score": "1", "reason": "x"}, "has no check 'nosuch'"),
    ({"check": "identity", "score": "nan", "reason": "x"}, "is not a number"),
])
def test_a_wrong_override_is_the_clis_sentence_and_writes_nothing(app, book_path, form, sentence):
    client = sign_in(app, book_path)
    page = "/students/proj1_filtering/ann"
    response = client.post(f"{page}/override", data={"csrf": csrf_of(client, page), **form})
    assert response.status_code == 400 and sentence in html.unescape(response.get_data(as_text=True))
    with Gradebook(book_path) as book:
        assert book.override_log("ann", "proj1_filtering") == []


def test_a_change_without_its_csrf_token_or_from_elsewhere_is_refused(app, book_path):
    client = sign_in(app, book_path)
    page = "/students/proj1_filtering/ann"
    form = {"check": "identity", "score": "2", "reason": "r"}
    assert client.post(f"{page}/override", data=form).status_code == 403
    assert client.post(f"{page}/override", data={**form, "csrf": "forged"}).status_code == 403
    token = csrf_of(client, page)
    assert client.post(f"{page}/override", data={**form, "csrf": token},
                       headers={"Origin": "https://evil.example"}).status_code == 403
    other = sign_in(app, book_path, "ta2", "ta")  # another member's token is not yours
    assert other.post(f"{page}/override", data={**form, "csrf": token}).status_code == 403
    with Gradebook(book_path) as book:
        assert book.override_log("ann", "proj1_filtering") == []


def test_a_ta_may_override_but_not_extend_nor_manage_staff(app, book_path):
    client = sign_in(app, book_path, "ta1", "ta")
    page = "/students/proj1_filtering/ann"
    token = csrf_of(client, page)
    assert client.post(f"{page}/extend", data={"csrf": token, "days": "3",
                                               "reason": "r"}).status_code == 403
    assert client.get("/staff").status_code == 403
    assert client.post("/staff", data={"csrf": token, "login": "me",
                                       "role": "instructor"}).status_code == 403
    with Staff(book_path) as staff:
        assert staff.member("me") is None


def test_an_instructor_extends_and_adds_staff_with_a_link(app, book_path):
    client = sign_in(app, book_path)
    page = "/students/proj1_filtering/bob"
    response = client.post(f"{page}/extend", data={"csrf": csrf_of(client, page), "days": "2",
                                                   "reason": "illness"})
    assert response.status_code == 302
    with Gradebook(book_path) as book:
        assert book.extension("bob", "proj1_filtering").days == 2
    added = client.post("/staff", data={"csrf": csrf_of(client, "/staff"), "login": "ta9",
                                        "role": "ta"}).get_data(as_text=True)
    link = re.search(r'<code id="link">http://localhost(/login/[^<]+)</code>', added).group(1)
    newcomer = app.test_client()
    assert newcomer.post("/login", data={"token": link.rsplit("/", 1)[1]}).status_code == 302
    assert "signed in as <b>ta9</b> (ta)" in newcomer.get("/").get_data(as_text=True)


# --- what a student controls is text ------------------------------------------------------

def test_a_students_id_and_output_are_escaped_on_every_page(app, book_path):
    client = sign_in(app, book_path)
    summary = client.get("/").get_data(as_text=True)
    assert HOSTILE_ID not in summary and "&lt;img src=x onerror=" in summary
    link = re.search(r'href="(/students/proj1_filtering/[^"]*img[^"]*)"', summary).group(1)
    page = client.get(link)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and HOSTILE_OUTPUT not in text and HOSTILE_ID not in text
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in text


def test_every_response_carries_the_security_headers(app, book_path):
    client = sign_in(app, book_path)
    for response in (client.get("/"), client.get("/students/proj1_filtering/nobody"),
                     app.test_client().get("/login"), client.get("/no/such/page")):
        for name, value in HEADERS.items():
            assert response.headers[name] == value, (response.status_code, name)
    policy = HEADERS["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline'; form" in policy  # no inline script
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


def test_the_first_instructor_gets_a_link_once(tmp_path):
    path = tmp_path / "new.sqlite"
    Gradebook(path).close()
    link = first_link(path, "http://127.0.0.1:8000")
    assert link is not None and link.startswith("http://127.0.0.1:8000/login/")
    assert first_link(path, "http://127.0.0.1:8000") is None


def test_the_class_view_filters_by_check_status_section_and_flag(app, book_path):
    from grader.store.queues import Queues

    with Queues(book_path) as queues:
        queues.set_sections({"ann": "A", "bob": "B"})
    with Gradebook(book_path) as book:
        book.record_similarity("proj1_filtering", [("bob", HOSTILE_ID, 0.9, 0.9, "/x.html")],
                               "2026-10-05T10:00:00")
    client = sign_in(app, book_path)

    def shown(query: str) -> set[str]:
        page = client.get(f"/?{query}").get_data(as_text=True)
        return {name for name in ("ann", "bob") if f">{name}</a>" in page}

    assert shown("") == {"ann", "bob"}
    assert shown("check=identity&status=failed") == {"ann"}
    assert shown("check=identity&status=passed") == {"bob"}
    assert shown("section=B") == {"bob"}
    assert shown("flagged=1") == {"bob"}
    assert "No student matches." in client.get("/?section=Z").get_data(as_text=True)


def test_similar_pairs_link_to_their_page_for_instructors_only(app, book_path, tmp_path):
    page = tmp_path / "pair.html"
    page.write_text("<!doctype html><title>bob and ann</title><pre>def f(): pass</pre>")
    with Gradebook(book_path) as book:
        book.record_similarity("proj1_filtering", [("bob", "ann", 0.9, 0.8, str(page))],
                               "2026-10-05T10:00:00")
    prof = sign_in(app, book_path)
    summary = prof.get("/").get_data(as_text=True)
    assert '<a href="/similarity/proj1_filtering/1">bob and ann</a>' in summary
    shown = prof.get("/similarity/proj1_filtering/1")
    assert shown.status_code == 200 and "def f(): pass" in shown.get_data(as_text=True)
    assert shown.headers["Content-Security-Policy"] == HEADERS["Content-Security-Policy"]
    assert prof.get("/similarity/proj1_filtering/2").status_code == 404
    ta = sign_in(app, book_path, "ta1", "ta")
    assert "bob and ann" not in ta.get("/").get_data(as_text=True)
    assert ta.get("/similarity/proj1_filtering/1").status_code == 403


def test_staff_imported_from_a_csv_sign_in_with_their_links(app, book_path, tmp_path):
    roster = tmp_path / "staff.csv"
    roster.write_text("login,role\nta7,ta\nprof2,instructor\n")
    proc = run_grader("staff", "import", str(roster), "--db", str(book_path), "--url",
                      "http://localhost")
    assert proc.returncode == 0, proc.stderr
    links = dict(re.findall(r"^(\w+) \(\w+\): http://localhost/login/(\S+)$", proc.stdout, re.M))
    for login, role in (("ta7", "ta"), ("prof2", "instructor")):
        client = app.test_client()
        assert client.post("/login", data={"token": links[login]}).status_code == 302
        assert f"signed in as <b>{login}</b> ({role})" in client.get("/").get_data(as_text=True)
    (tmp_path / "bad.csv").write_text("login,role\nx,boss\n")
    refused = run_grader("staff", "import", str(tmp_path / "bad.csv"), "--db", str(book_path))
    assert refused.returncode == 2 and "x's role 'boss' is not one of instructor, ta" in refused.stderr
    with Staff(book_path) as staff:
        assert staff.member("x") is None
