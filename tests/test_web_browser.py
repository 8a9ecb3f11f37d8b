"""The staff application in a real browser: ``grader serve`` started as a user would, Debian's
Chromium driven through Playwright (no browser download). An instructor signs in by the
printed link, opens the class view and a student's page, records an override from the page
and signs out; a student's hostile id and output never run script.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import REPO
from grader.store.gradebook import Gradebook
from test_web import HOSTILE_ID, HOSTILE_OUTPUT, graded

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev extra)")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(BROWSER is None, reason="chromium is not installed "
                                 "(Debian: apt-get install chromium); .ci/run installs it")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(db: Path, *options: str) -> Iterator[tuple[str, str]]:
    """``grader serve --db DB [OPTIONS]`` started as a user would: its address and first
    sign-in link."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "serve", "--db", str(db),
                             "--port", str(port), *options], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "300"})
    try:
        link = _first_link(proc)
        _wait_until_listening(port)
        yield f"http://127.0.0.1:{port}", link
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path):
    """The application on a gradebook of three students; its address, first link and file."""
    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db) as book:
        for student, points, output in (("ann", 0.0, ""), ("bob", 2.0, ""),
                                        (HOSTILE_ID, 1.0, HOSTILE_OUTPUT)):
            book.record(graded(student, points, stdout=output))
    with serving(db) as (base, link):
        yield base, link, db


def canvas_rows(db: Path, out: Path) -> list[list[str]]:
    """The rows of ``grader export --format canvas`` of the gradebook ``db``, run as a user would."""
    exported = subprocess.run([sys.executable, "-m", "grader.cli", "export", "--db", str(db),
                               "--format", "canvas", "--out", str(out)], cwd=REPO,
                              capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    return list(csv.reader(out.open()))


def write_toy(folder: Path) -> Path:
    """The tutorial's assignment (three example submissions) written into ``folder``."""
    from test_tutorial import tutorial_files

    for name, body in tutorial_files().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body)
    return folder / "toy_stretch"


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, driven through Playwright, closed when the block ends."""
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def signed_in_page(browser, link: str, problems: list[str]):
    """A page of ``browser`` signed in through ``link``; console errors go to ``problems``."""
    page = browser.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(link)
    page.click("#sign-in")
    page.wait_for_load_state()
    return page


def _first_link(proc: subprocess.Popen) -> str:
    assert proc.stdout is not None
    for _ in range(20):
        line = proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/login/\S+)", line)
        if found:
            return found.group(1)
    raise AssertionError("grader serve printed no sign-in link")


def _wait_until_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("grader serve never listened")


def test_an_instructor_signs_in_and_overrides_from_the_page(server):
    base, link, db = server
    problems: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto(link)
        page.click("#sign-in")
        page.wait_for_url(f"{base}/")
        assert "signed in as" in page.inner_text("nav")
        assert page.locator("a", has_text="ann").count() >= 1

        page.click(f"a:text-is('{HOSTILE_ID}')")  # the hostile student's page, as text
        assert page.evaluate("window.__pwned") is None
        assert HOSTILE_OUTPUT in page.content().replace("&lt;", "<").replace("&gt;", ">")

        page.goto(f"{base}/")
        page.click("a:text-is('ann')")
        page.select_option("#override-check", "identity")
        page.fill("#override-score", "1.5")
        page.fill("#override-reason", "partial credit for the padding")
        page.click("#override-save")
        page.wait_for_selector("#saved")
        assert "overridden" in page.inner_text("body")
        assert "partial credit for the padding" in page.inner_text("#history")

        page.click("text=Sign out")
        page.wait_for_url(f"{base}/login")
        page.goto(f"{base}/")
        assert page.url == f"{base}/login"  # the session is gone
    assert problems == [], problems
    with Gradebook(db) as book:
        assert book.effective_of("ann", "proj1_filtering").score == 4.5


def test_two_tas_grade_their_queues_anonymously_and_the_export_carries_it(tmp_path):
    """The issue's acceptance flow: the instructor adds two TAs, splits an item between them
    and turns anonymity on; each TA grades their queue by keyboard seeing pseudonyms only;
    the instructor publishes; the Canvas CSV then carries the manual points."""
    from test_manual import with_item

    students = ["s00", "s01", "s02", "s03"]
    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db) as book:
        for student in students:
            book.record(with_item(student, 2.0))  # 5 of 5 autograded points each
    problems: list[str] = []
    with serving(db) as (base, link):
        with chromium() as browser:

            def person(first_link: str):
                page = browser.new_context().new_page()
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.goto(first_link)
                page.click("#sign-in")
                page.wait_for_url(f"{base}/")
                return page

            prof = person(link)
            links = {}
            for ta in ("ta1", "ta2"):
                prof.goto(f"{base}/staff")
                prof.fill("input[name=login]", ta)
                prof.click("text=Add and make a sign-in link")
                links[ta] = prof.inner_text("#link")
            prof.goto(f"{base}/grade/proj1_filtering")
            prof.click("#split button")
            prof.click("#anonymity")
            assert "Graded anonymously" in prof.inner_text("#anonymous")

            for ta, key, points in (("ta1", "1", 5.0), ("ta2", "2", 2.0)):
                page = person(links[ta])
                page.goto(f"{base}/grade/proj1_filtering")
                page.click("#start-hybrid_quality")
                seen = []
                while "/grade/proj1_filtering/hybrid_quality/" in page.url:
                    seen.append(page.inner_text("#student"))
                    assert not any(s in page.content() for s in students), "an id was shown"
                    before = page.url
                    page.keyboard.press(key)
                    page.wait_for_url(lambda url, before=before: url != before)
                assert len(seen) == 2 and all(name.startswith("anon-") for name in seen)
                assert "2 of 2" in page.inner_text("body")

            prof.goto(f"{base}/grade/proj1_filtering")
            prof.click("#publish")
            assert "Published by" in prof.inner_text("body")
    assert problems == [], problems
    rows = canvas_rows(db, tmp_path / "canvas.csv")
    assert rows[1][-1] == "10"  # points possible: 5 autograded + 5 by hand
    totals = sorted(float(row[-1]) for row in rows[2:])
    with Gradebook(db) as book:
        by_hand = sorted(book.manual_grades(s, "proj1_filtering")["hybrid_quality"].by
                         for s in students)
    assert by_hand == ["ta1", "ta1", "ta2", "ta2"] and totals == [7.0, 7.0, 10.0, 10.0]


def test_a_batch_started_from_the_page_shows_its_progress_live(tmp_path):
    write_toy(tmp_path)
    db = tmp_path / "gradebook.sqlite"
    Gradebook(db).close()
    problems: list[str] = []
    with serving(db) as (base, link):
        with chromium() as browser:
            page = signed_in_page(browser, link, problems)
            page.goto(f"{base}/batches")
            page.fill("input[name=assignment]", str(tmp_path / "toy_stretch"))
            page.fill("input[name=folder]", str(tmp_path / "toy_stretch" / "examples"))
            page.click("#start button")
            page.wait_for_url(f"{base}/batches")
            loads = []
            page.on("load", lambda _: loads.append(page.url))
            # the row appears (one reload at most, when the batch is new) and then follows the
            # events to the end, with no reload
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                state = page.locator("#batches .state")
                if state.count() and state.first.inner_text() == "done":
                    break
                page.wait_for_timeout(250)
            assert page.inner_text("#batches .done") == "3 of 3"
            assert len(loads) <= 1, loads
    assert problems == [], problems


def test_the_class_view_fills_in_while_a_batch_runs(tmp_path):
    write_toy(tmp_path)
    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db) as book:
        book.record(graded("zoe", 2.0))  # the class view has something to show at first
    problems: list[str] = []
    with serving(db) as (base, link):
        with chromium() as browser:
            page = signed_in_page(browser, link, problems)
            page.wait_for_url(f"{base}/")
            loads: list[str] = []
            page.on("load", lambda _: loads.append(page.url))
            toy = tmp_path / "toy_stretch"
            batch = subprocess.Popen([sys.executable, "-m", "grader.cli", "grade", str(toy),
                                      str(toy / "examples"), "--db", str(db), "-q"], cwd=REPO,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert batch.wait(timeout=120) == 0
            toy_students = {"alice", "bob", "carol"}
            deadline = time.monotonic() + 30  # the last event comes at most a tick after the end
            while time.monotonic() < deadline and not toy_students <= set(
                    page.inner_text("#class-view").split()):
                page.wait_for_timeout(250)
            assert toy_students <= set(page.inner_text("#class-view").split())
            assert loads == []  # filled in place, never reloaded
    assert problems == [], problems


def test_a_submitted_svg_or_html_file_never_runs_in_the_browser(tmp_path):
    from test_manual import with_item

    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db) as book:
        result = with_item("ann", 2.0)
        book.record(replace(result, files={**result.files, "evil.html":
                                           b"<script>window.__pwned = 1</script>"}))
    problems: list[str] = []
    with serving(db) as (base, link):
        with chromium() as browser:
            page = signed_in_page(browser, link, problems)
            page.goto(f"{base}/grade/proj1_filtering/hybrid_quality/ann")
            assert page.locator("img.shown-file").evaluate("img => img.naturalWidth") == 1
            assert page.locator("a:text-is('evil.svg')").count() == 1  # listed, not shown
            for number, name in ((1, "evil.html"), (2, "evil.svg")):  # opened: a download
                with page.expect_download() as download:
                    page.evaluate("url => { const a = document.createElement('a'); a.href = url;"
                                  " document.body.append(a); a.click(); }",
                                  f"{base}/files/proj1_filtering/ann/{number}")
                assert download.value.suggested_filename == name
            assert page.evaluate("window.__pwned") is None
    assert problems == [], problems
