"""The staff application in a real browser: ``grader serve`` started as a user would, Debian's
Chromium driven through Playwright (no browser download). An instructor signs in by the
printed link, opens the class view and a student's page, records an override from the page
and signs out; a student's hostile id and output never run script.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
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


@pytest.fixture
def server(tmp_path: Path):
    """``grader serve`` on a gradebook of three students; its address and first link."""
    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db) as book:
        for student, points, output in (("ann", 0.0, ""), ("bob", 2.0, ""),
                                        (HOSTILE_ID, 1.0, HOSTILE_OUTPUT)):
            book.record(graded(student, points, stdout=output))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "serve", "--db", str(db),
                             "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "300"})
    try:
        link = _first_link(proc)
        _wait_until_listening(port)
        yield f"http://127.0.0.1:{port}", link, db
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
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
        browser.close()
    assert problems == [], problems
    with Gradebook(db) as book:
        assert book.effective_of("ann", "proj1_filtering").score == 4.5


def test_a_ta_grades_a_manual_item_by_keyboard(tmp_path):
    from test_manual import with_item

    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db) as book:
        for student in ("ann", "bob", "cat"):
            book.record(with_item(student, 2.0))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "serve", "--db", str(db),
                             "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "300"})
    base = f"http://127.0.0.1:{port}"
    problems: list[str] = []
    try:
        link = _first_link(proc)
        _wait_until_listening(port)
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(link)
            page.click("#sign-in")
            page.goto(f"{base}/grade/proj1_filtering")
            page.click("#start-hybrid_quality")
            page.wait_for_url(f"{base}/grade/proj1_filtering/hybrid_quality/ann")
            page.keyboard.press("1")  # convincing: 5 points, on to the next not graded
            page.wait_for_url(f"{base}/grade/proj1_filtering/hybrid_quality/bob")
            page.keyboard.press("p")  # back to ann
            page.wait_for_url(f"{base}/grade/proj1_filtering/hybrid_quality/ann")
            assert "now 5 (convincing) by root" in page.inner_text("#current") or \
                "now 5 (convincing)" in page.inner_text("#current")
            page.keyboard.press("c")
            page.keyboard.type("only the far view works")
            page.keyboard.press("Escape")
            page.keyboard.press("2")  # one distance: 2 points
            page.wait_for_url(f"{base}/grade/proj1_filtering/hybrid_quality/bob")
            assert page.evaluate("window.__pwned") is None
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert problems == [], problems
    with Gradebook(db) as book:
        saved = book.manual_grades("ann", "proj1_filtering")["hybrid_quality"]
        assert (saved.points, saved.level, saved.comment) == (2.0, "one distance",
                                                               "only the far view works")
        assert "hybrid_quality" not in book.manual_grades("bob", "proj1_filtering")
