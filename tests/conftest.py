"""Shared fixtures: an isolated cache, the course data (when present), the CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.datapath import course_data_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prepared expected outputs go to a per-run cache, never the user's."""
    os.environ["GRADER_CACHE"] = str(tmp_path_factory.mktemp("grader-cache"))


@pytest.fixture
def course_data() -> Path:
    """The course data folder; the test is skipped where it is absent."""
    root = course_data_dir()
    if root is None:
        pytest.skip("course data not available (set GRADER_DATA)")
    return root


def run_grader(*args: str, env: dict[str, str] | None = None,
               cwd: Path = REPO, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real ``grader`` CLI in a subprocess and capture its output."""
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def never_done_for_mallory(connection, root, path, *rest):
    """Intake work (:class:`grader.intake.timed.Intake`'s ``work``) that never ends for mallory's
    submission, a stand-in for input that is slow to prepare (the caps leave none), and is the
    usual work for everyone else. It lives here because the intake's helper imports it by name:
    this module is quick to import."""
    from grader.intake import timed as intake

    if path.name.startswith("mallory"):
        connection.send(("step", "lifting the definitions of mallory.ipynb"))
        time.sleep(60)
    return intake.prepare(connection, root, path, *rest)
