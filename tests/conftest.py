"""Shared fixtures: an isolated cache, the course data (when present), the CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
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
