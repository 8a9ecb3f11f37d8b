"""Running inside Gradescope's autograder, and packaging the autograder bundle.

Gradescope unpacks ``autograder.zip`` into ``/autograder/source``, runs ``setup.sh`` once
when the image is built, then ``run_autograder`` for each submission, which must leave
``/autograder/results/results.json``. The container runs as root, in Docker, where
bubblewrap cannot create namespaces: student code runs there under a uid of its own,
Landlock, seccomp and the subreaper (``grader doctor`` prints them in the build log).

The bundle never holds the answer key. The expected outputs of every check, hidden ones
included, are prepared here on the instructor's machine and shipped as data
(``grader_bundle/``: ``kit.json`` + ``arrays.npz``, as student kits ship their visible
checks); the harness goes in as the kit wheel (no ``reference/``, no audit). Checks fed by
the course's own data ship its prepared inputs only with ``--with-course-data``; without
it they are skipped there, and packaging says so.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from grader import grading
from grader.intake import timed as intake
from grader.store import late
from grader.errors import SubmissionError
from grader.export.gradescope import results_json
from grader.kit import bundle, manifest, wheel
from grader.prepare.expected import prepare
from grader.prepare.prepared import PreparedCheck
from grader.rubric.load import Rubric
from grader.sandbox import isolation

BUNDLE_DIR = "grader_bundle"
NOT_SHIPPED = ("needs the course's own data, which this autograder bundle does not ship "
               "(package it with --with-course-data)")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope image setup: Python, bubblewrap and libseccomp (isolation layers), the harness
# without the answer key, and what the course's code imports.
set -euo pipefail
AUTOGRADER="${{AUTOGRADER:-/autograder}}"
apt-get update -qq
apt-get install -y -qq python3 python3-pip python3-venv bubblewrap libseccomp2
python3 -m venv /opt/grader
/opt/grader/bin/pip install -q "$AUTOGRADER/source/{wheel}" {requirements}
# The course environment student code runs in (if the rubric names one), built once here;
# outside /root, which the sandbox's uids may not enter.
export GRADER_ENVS=/opt/grader-envs
/opt/grader/bin/grader env build --bundle "$AUTOGRADER/source/grader_bundle"
# The bundle holds every check's expected outputs: root only. Student code runs under uids of
# its own (64000-64255, no account uses them: GRADER_SANDBOX_UIDS) with no access to it.
chmod -R go= "$AUTOGRADER/source"
/opt/grader/bin/grader doctor
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
AUTOGRADER="${AUTOGRADER:-/autograder}"
export GRADER_ENVS="${GRADER_ENVS:-/opt/grader-envs}"
mkdir -p "$AUTOGRADER/results" && chmod go= "$AUTOGRADER/results"
exec ${GRADER:-/opt/grader/bin/grader} gradescope --bundle "$AUTOGRADER/source/grader_bundle" \\
    --submission "$AUTOGRADER/submission" --results "$AUTOGRADER/results/results.json" \\
    --metadata "$AUTOGRADER/submission_metadata.json"
"""


def run(rubric: Rubric, rubric_hash: str, prepared: list[PreparedCheck], submission_dir: Path,
        results_file: Path, metadata: Path | None = None) -> dict:
    """Grade the submission in ``submission_dir``; write ``results_file`` once; return it.

    ``metadata`` is Gradescope's ``submission_metadata.json``: its ``created_at`` is the
    submission time the rubric's late policy uses. A submission that cannot be loaded (a cap,
    a bad archive, over ``load_timeout_s``: :mod:`grader.intake.timed`) gets every check in
    ``error`` with the reason, which the student sees, rather than a failed autograder.
    """
    if rubric.isolation == "strict":
        isolation.require_all_guarantees(rubric.assignment)
    try:
        loaded = intake.load(submission_dir, rubric.modules, rubric.defaults.load_timeout_s,
                             student="submission", provided=rubric.provided_files)
    except SubmissionError as exc:
        from grader.batch.grade import unloadable

        result = unloadable("submission", submission_dir, rubric, rubric_hash, str(exc))
    else:
        with loaded:
            result = grading.grade(loaded, rubric, rubric_hash, prepared)
    moment = late.gradescope_time(metadata) if metadata else None
    result = late.apply_policy(result, submission_dir, rubric, {"submission": moment} if moment else {})
    data = results_json(result, rubric.leaderboard)
    results_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = results_file.with_name(f".{results_file.name}.{os.getpid()}")
    temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
    temporary.replace(results_file)  # appears whole, once
    return data


def load_bundle(folder: Path) -> tuple[Rubric, str, list[PreparedCheck]]:
    """The rubric, its hash and the prepared checks shipped in ``folder``."""
    info, rubric, prepared = bundle.load(folder)
    return rubric, info["rubric_hash"], prepared


def package(rubric: Rubric, rubric_hash: str, out: Path,
            with_course_data: bool = False) -> tuple[list[str], list[str]]:
    """Write ``autograder.zip``; return (the names it holds, checks left out for want of data)."""
    prepared = prepare(rubric, rubric_hash)
    left_out = [p.check.id for p in prepared if p.uses_course_data and not with_course_data]
    shipped = [PreparedCheck(p.check, [], unavailable=NOT_SHIPPED) if p.check.id in left_out
               else p for p in prepared]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        bundle.save(folder / BUNDLE_DIR, manifest(rubric, rubric_hash, visible_only=False),
                    shipped)
        built = wheel.build(folder / "wheels")
        files = {f"{BUNDLE_DIR}/{p.name}": p.read_bytes() for p in (folder / BUNDLE_DIR).iterdir()}
        files[built.name] = built.read_bytes()
        requirements = " ".join(f"'{r}'" for r in rubric.requirements)
        files["setup.sh"] = SETUP_SH.format(wheel=built.name, requirements=requirements).encode()
        files["run_autograder"] = RUN_AUTOGRADER.encode()
        _zip(files, out)
    return sorted(files), left_out


def _zip(files: dict[str, bytes], out: Path) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
