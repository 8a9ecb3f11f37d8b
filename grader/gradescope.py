"""Running inside Gradescope's autograder, and packaging the autograder bundle.

Gradescope unpacks ``autograder.zip`` into ``/autograder/source``, runs
``setup.sh`` once when the image is built, then ``run_autograder`` for each
submission, which must leave ``/autograder/results/results.json``. The bundle
holds the harness as a wheel, the rubric, and those two scripts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from grader import grading, submission
from grader.datapath import REPO_ROOT
from grader.errors import GraderError
from grader.export.gradescope import results_json
from grader.prepare import prepare
from grader.rubric import Rubric

SUBMISSION_DIR = Path("/autograder/submission")
RESULTS_FILE = Path("/autograder/results/results.json")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope image setup: Python, bubblewrap (used when the container allows namespaces), the harness.
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3 python3-pip python3-venv bubblewrap
python3 -m venv /opt/grader
/opt/grader/bin/pip install -q /autograder/source/{wheel}[course]
/opt/grader/bin/grader prepare /autograder/source/{rubric}
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
exec /opt/grader/bin/grader gradescope /autograder/source/{rubric}
"""


def run(rubric: Rubric, rubric_hash: str, submission_dir: Path, results_file: Path) -> dict:
    """Grade the submission in ``submission_dir``; write and return Gradescope's results."""
    prepared = prepare(rubric, rubric_hash)
    with submission.load(submission_dir, rubric.modules, student="submission") as loaded:
        result = grading.grade(loaded, rubric, rubric_hash, prepared)
    data = results_json(result, rubric.leaderboard)
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return data


def package(rubric_file: Path, out: Path) -> list[str]:
    """Write ``autograder.zip`` for ``rubric_file``; return the names it holds."""
    with tempfile.TemporaryDirectory() as scratch:
        wheel = _build_wheel(Path(scratch))
        names = {
            wheel.name: wheel.read_bytes(),
            rubric_file.name: rubric_file.read_bytes(),
            "setup.sh": SETUP_SH.format(wheel=wheel.name, rubric=rubric_file.name).encode(),
            "run_autograder": RUN_AUTOGRADER.format(rubric=rubric_file.name).encode(),
        }
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, data in sorted(names.items()):
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
                bundle.writestr(info, data, zipfile.ZIP_DEFLATED)
    return sorted(names)


def _build_wheel(folder: Path) -> Path:
    if not (REPO_ROOT / "pyproject.toml").is_file():
        raise GraderError("package-gradescope needs the harness source tree (pyproject.toml)")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(folder), str(REPO_ROOT)], capture_output=True, text=True)
    wheels = list(folder.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise GraderError(f"building the harness wheel failed: {proc.stderr.strip()[-300:]}")
    shutil.rmtree(REPO_ROOT / "build", ignore_errors=True)
    return wheels[0]
