"""A simulated Gradescope autograder: the bundle built here, unpacked into a temporary
``/autograder`` tree, hostile submissions graded through its ``run_autograder`` with
namespaces disabled (as in Gradescope's Docker container), the answer key unimportable.

What must hold: the bundle carries no code of the answer key, only data; no hostile
submission earns a point; ``results.json`` is written once, by the grader, and nothing
changes it after the grader exits.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from test_hostile import (CMDLINE_MARKER, FULL_MARKS, HOSTILE, RUBRIC, SUBMISSIONS, VERDICTS,
                          marked_processes)

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)

ATTACKS = ["read_autograder_bundle", "late_rewrite", "read_expected_cache", "kill_parent",
           "tamper_other_submissions", "memfd_hoard", "unusual_syscalls", "fork_memory"]
# What run_autograder runs instead of /opt/grader/bin/grader: the harness with the answer key
# made unimportable, so grading can only use the bundle's data.
SHIM = """#!/bin/sh
exec {python} -c 'import sys; sys.modules["reference"] = None; sys.argv[0] = "grader"
from grader.cli import main; main()' "$@"
"""


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    """``/autograder`` with the hostile rubric's bundle unpacked in ``source/`` as setup.sh leaves it."""
    root = tmp_path_factory.mktemp("gradescope") / "autograder"
    bundle = root.parent / "autograder.zip"
    proc = subprocess.run([sys.executable, "-m", "grader.cli", "package-gradescope", str(RUBRIC),
                           "--out", str(bundle)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    for script in ("run_autograder", "setup.sh"):
        (root / "source" / script).chmod(0o755)
    os.chmod(root / "source", 0o700)  # setup.sh: chmod -R go= source
    shim = root.parent / "grader-shim"
    shim.write_text(SHIM.format(python=sys.executable))
    shim.chmod(0o755)
    return root


def test_the_bundle_holds_data_not_the_answer_key(autograder):
    source = autograder / "source"
    wheel = next(source.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        members = archive.namelist()
    assert not [m for m in members if m.startswith(("reference/", "grader/audit/"))]
    manifest = json.loads((source / "grader_bundle" / "kit.json").read_text())
    assert manifest["rubric"]["reference"] == "not shipped"
    assert {c["id"] for c in manifest["rubric"]["checks"]} == {"identity", "correlation", "hybrid"}
    assert all(data["cases"] for data in manifest["checks"].values())  # prepared, every check
    run = (source / "run_autograder").read_text()
    assert "gradescope --bundle" in run and "prepare" not in (source / "setup.sh").read_text()


def _grade(autograder: Path, name: str, tmp_path: Path) -> subprocess.CompletedProcess:
    submission = autograder / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    shutil.rmtree(autograder / "results", ignore_errors=True)
    shutil.copytree(SUBMISSIONS / name, submission)
    if VERDICTS[name].get("attack_kit"):
        shutil.copyfile(HOSTILE / "attack.py", submission / "attack.py")
    env = {**os.environ, "AUTOGRADER": str(autograder), "GRADER": str(autograder.parent / "grader-shim"),
           "GRADER_NO_BWRAP": "1", "TMPDIR": str(tmp_path), "GRADER_CACHE": str(tmp_path / "cache")}
    return subprocess.run(["bash", str(autograder / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_correct_submission_gets_full_marks(autograder, tmp_path):
    proc = _grade(autograder, "control_correct", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert results["score"] == FULL_MARKS
    assert not any(p.is_file() and "reference" in p.parts for p in autograder.rglob("*.py"))
    # for the staff: what confined the run, and each layer it went without, with why
    assert {"files-verified", "seccomp"} <= set(results["isolation"]["layers"])
    assert results["isolation"]["missing"]["bubblewrap"]


@pytest.mark.parametrize("name", ATTACKS)
def test_no_forged_point_and_results_written_once(autograder, tmp_path, name):
    proc = _grade(autograder, name, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results_file = autograder / "results" / "results.json"
    written = hashlib.sha256(results_file.read_bytes()).hexdigest()
    assert json.loads(results_file.read_text())["score"] == 0, results_file.read_text()
    time.sleep(1.5)  # a surviving daemon rewrites within a few tenths of a second
    assert hashlib.sha256(results_file.read_bytes()).hexdigest() == written
    assert [p.name for p in results_file.parent.iterdir()] == ["results.json"]
    assert marked_processes([CMDLINE_MARKER]) == {}
