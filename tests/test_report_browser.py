"""The reports of the bundled examples, opened in headless Chromium: they load, look filled in,
log nothing to the console, and a student's ``<script>`` does not run.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it); without it these
tests skip. Set ``GRADER_SCREENSHOTS=DIR`` to keep the screenshots for a look.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, run_grader
from grader.store.gradebook import Gradebook
from grader.results import CheckResult, Status, SubmissionResult

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,  # a browser per page
              pytest.mark.skipif(BROWSER is None, reason="chromium is not installed "
                                 "(Debian: apt-get install chromium); .ci/run installs it")]
WINDOW = (1280, 2400)
HOSTILE = '<script>console.error("pwned")</script><img src=x onerror="console.error(1)">'
# graded without the course data (those checks skip): quick, and the same on every machine
EXAMPLES = ["proj1_filtering", "proj2_features", "proj3_backprop"]
PAGES = ["index.html", "proj1_filtering--bob_flipped_kernel.html",
         "proj2_features--ben_arctan.html", "proj3_backprop--carol_db_wrong_axis.html",
         "hostile--script_console.error_pwned_script_img_src_x_onerror_console.error_1.html"]


def open_page(page: Path, screenshot: Path, profile: Path) -> list[str]:
    """Load ``page`` in headless Chromium with no network, save a screenshot, and return
    what the page wrote to the console (Chromium logs it to stderr as ``CONSOLE`` lines)."""
    proc = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}",
         f"--screenshot={screenshot}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=90)
    assert screenshot.is_file(), f"no screenshot of {page.name}: {proc.stderr[-2000:]}"
    return [line for line in proc.stderr.splitlines()
            if re.search(r":CONSOLE[(:]|Uncaught", line)]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    """The examples of three assignments graded into one gradebook, a hostile result added,
    and ``grader report`` run on it."""
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "gradebook.sqlite"
    empty = folder / "no-data"
    empty.mkdir()
    for assignment in EXAMPLES:
        proc = run_grader("grade", assignment, str(REPO / "assignments" / assignment / "examples"), "--db", str(db),
                          "--quiet", env={"GRADER_DATA": str(empty)})
        assert proc.returncode == 0, proc.stderr
    with Gradebook(db) as book:
        book.record(_hostile_result())
    proc = run_grader("report", "--db", str(db), "--out", str(folder / "out"))
    assert proc.returncode == 0, proc.stderr
    return folder / "out"


def _hostile_result() -> SubmissionResult:
    image = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    check = CheckResult("c1", HOSTILE, "f", Status.FAILED, 0.0, 1.0, f"f raised {HOSTILE}",
                        details={"traceback": HOSTILE}, stdout=f"{HOSTILE}\n</pre>{HOSTILE}\n",
                        kind="numeric",
                        artifacts={"output": image, "expected": image.T.copy(),
                                   "label": np.array(HOSTILE)})
    return SubmissionResult(HOSTILE, "feed", "hostile", "h1", [check], notes=[HOSTILE],
                            finished_at="2026-01-01T00:00:00")


@pytest.fixture
def shots(tmp_path) -> Path:
    kept = os.environ.get("GRADER_SCREENSHOTS")
    folder = Path(kept) if kept else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_console_scan_catches_a_script_error(tmp_path):
    """The control: a page whose script fails is caught, so a clean scan means something."""
    page = tmp_path / "broken.html"
    page.write_text('<!doctype html><p>x</p><script>console.error("boom"); missing();</script>')
    messages = open_page(page, tmp_path / "broken.png", tmp_path / "profile")
    assert any("boom" in m for m in messages) and any("Uncaught" in m for m in messages)


@pytest.mark.parametrize("name", PAGES)
def test_report_loads_cleanly_in_chromium(reports, shots, tmp_path, name):
    page = reports / name
    assert page.is_file(), sorted(p.name for p in reports.iterdir())
    screenshot = shots / name.replace(".html", ".png")
    assert open_page(page, screenshot, tmp_path / "profile") == []
    with Image.open(screenshot) as image:
        assert image.size == WINDOW
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    top = pixels[:600]
    assert top.std() > 20, "the top of the page is blank"
    assert (pixels < 128).mean() > 0.01  # text and figures, not an empty page


def test_student_script_stays_text(reports):
    page = (reports / PAGES[-1]).read_text()
    assert "<script" not in page and "&lt;script&gt;console.error(&#34;pwned&#34;)" in page
