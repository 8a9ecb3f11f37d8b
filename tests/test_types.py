"""mypy finds no error in grader/ and reference/ (the ``[tool.mypy]`` settings of pyproject.toml).

CI runs ``python3 -m pytest`` only, so this test is how CI runs mypy. About a minute from
a cold cache (``.mypy_cache`` in the repository), hence ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_mypy_finds_no_error(monkeypatch):
    api = pytest.importorskip("mypy.api", reason="mypy is in the dev extra: pip install -e .[dev]")
    monkeypatch.chdir(REPO)  # the files and settings come from pyproject.toml there
    stdout, stderr, status = api.run(["--config-file", str(REPO / "pyproject.toml")])
    assert status == 0, stdout + stderr
