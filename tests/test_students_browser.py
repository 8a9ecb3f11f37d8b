"""Students on the course's server in a real browser: ``grader serve --accept`` started as an
instructor would, Debian's Chromium driven through Playwright. A student signs in, hands in,
sees the queue then the visible results; the instructor publishes; the student sees the hidden
check and files a regrade request that a TA accepts; the Canvas export carries the new points.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from grader.store.gradebook import Gradebook
from grader.store.queues import Queues
from grader.store.staff import Staff
from test_students_web import FLIPPED, RUBRIC
from test_web_browser import BROWSER, canvas_rows, chromium, serving

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev extra)")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(BROWSER is None, reason="chromium is not installed "
                                 "(Debian: apt-get install chromium); .ci/run installs it")]


def link_for(db: Path, base: str, login: str) -> str:
    with Staff(db) as staff:
        return f"{base}/login/{staff.link_token(login)}"


def open_as(browser, link: str, problems: list[str]):
    """A new browser context (its own cookies) signed in through ``link``."""
    page = browser.new_context().new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(link)
    page.click("#sign-in")
    page.wait_for_load_state()
    return page


def wait_for_text(page, selector: str, text: str, seconds: float = 90) -> None:
    """Reload ``page`` until ``selector`` holds ``text`` (the queue moves on its own)."""
    deadline = time.monotonic() + seconds
    while text not in (page.text_content(selector) or ""):
        assert time.monotonic() < deadline, f"{selector} never showed {text!r}"
        time.sleep(0.5)
        page.reload()


def test_a_student_hands_in_reads_feedback_and_a_ta_accepts_their_regrade(tmp_path):
    (tmp_path / "assignment").mkdir()
    rubric = tmp_path / "assignment" / "rubric.yaml"
    rubric.write_text(RUBRIC)
    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db), Queues(db) as queues, Staff(db) as staff:
        queues.set_sections({"ada": "A"})
        staff.add("tia", "ta", by="test")
    code = tmp_path / "student_code.py"
    code.write_bytes(FLIPPED)
    problems: list[str] = []
    with serving(db, "--accept", str(rubric), "--graders", "1") as (base, prof_link), \
            chromium() as browser:
        ada = open_as(browser, link_for(db, base, "ada"), problems)
        assert ada.url == f"{base}/me"
        ada.set_input_files("#file-web_hand_in", str(code))
        ada.click("#upload-web_hand_in")
        assert "the time that counts for the deadline" in ada.text_content("#receipt")
        place = ada.text_content("#receipt-place")
        assert "ahead of it" in place or place in ("grading", "graded"), place
        ada.goto(f"{base}/me")
        wait_for_text(ada, "table.uploads", "2/2")  # the visible check; the hidden one waits
        ada.click("#feedback-web_hand_in")
        assert "1 more check(s) worth 3 point(s)" in ada.text_content("#held")
        assert "kernels the kit does not show" not in ada.content()

        prof = open_as(browser, prof_link, problems)
        prof.click("#publish-web_hand_in")
        assert "published by" in prof.text_content("#publishing")

        ada.reload()
        assert "kernels the kit does not show" in ada.content()
        ada.select_option("#regrade-check", "secret_kernels")
        ada.fill("#regrade-message", "I flipped on purpose: the handout says convolution")
        ada.click("#regrade-file")
        assert "open" in ada.text_content("#regrades")

        tia = open_as(browser, link_for(db, base, "tia"), problems)
        tia.goto(f"{base}/regrades")
        tia.click("table#regrade-queue a")
        assert "I flipped on purpose" in tia.text_content("#regrade-message")
        tia.fill("#regrade-score", "2")
        tia.fill("#regrade-answer", "the handout is ambiguous: partial credit")
        tia.click("#regrade-accept")
        assert "No open requests" in tia.content()

        ada.reload()
        assert "accepted — the handout is ambiguous: partial credit (now 2 points)" in \
            ada.text_content("#regrades")
    assert problems == []
    rows = canvas_rows(db, tmp_path / "canvas.csv")
    assert rows[-1][0] == "ada" and rows[-1][-1] == "4"  # identity 2 + the 2 the TA granted
