"""Honest code scores the same in every isolation mode, and the answer key stays hidden in
every way the harness can be installed.

- **The example matrix.** Every example submission of every assignment is graded in each
  mode this machine can run (bubblewrap; no namespaces as root; an ordinary user; resource
  limits only) and must get the same score, check by check. The CNN assignment's two
  training checks (minutes each) are left out here; ``test_cli_cnn.py`` grades them.
- **Installed, not checked out.** The harness installed with ``pip install .`` into a venv
  (whose ``lib64 -> lib`` once granted Landlock all of site-packages) and into a folder of
  ``/usr`` (a system prefix that the sandbox reads whole): the attacks on the answer key earn
  nothing in any isolated mode, and the control still earns full marks.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from other_users import opened_for_other_users
from test_hostile import _as_mode_user, mode_environment, mode_problem

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ["proj1_filtering", "proj2_features", "proj3_backprop", "proj4_cnn"]
MODES = ["bubblewrap", "root", "user", "limits"]
ISOLATED = ["bubblewrap", "root", "user"]
SLOW_KINDS = {"training"}


@pytest.fixture(scope="module", autouse=True)
def _other_users_may_run_python():
    with opened_for_other_users():
        yield


def _rubric_without_training(assignment: str, folder: Path) -> Path:
    """The assignment's rubric without its training checks, beside its environments (and
    without ``isolation: strict``, which would refuse the mode with resource limits only)."""
    data = yaml.safe_load((REPO / "assignments" / assignment / "rubric.yaml").read_text())
    dropped = {c["id"] for c in data["checks"] if c["kind"] in SLOW_KINDS}
    data["checks"] = [c for c in data["checks"] if c["id"] not in dropped
                      and not set(c.get("requires", [])) & dropped]
    data["isolation"] = "best_effort"  # so that resource limits only may grade it too
    shutil.copytree(REPO / "assignments" / "environments", folder / "environments")
    path = folder / f"{assignment}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _grade(mode: str, base: Path, rubric: Path, corpus: Path,
           python: str = sys.executable, extra_env: dict | None = None) -> dict[str, dict]:
    """Grade ``corpus`` in ``mode``; each student's result."""
    for folder in ("tmp", "cache", "data"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    env = {**mode_environment(mode, base), **(extra_env or {})}
    who = _as_mode_user(mode, base)
    proc = subprocess.run([python, "-m", "grader.cli", "grade", str(rubric), str(corpus),
                           "--db", str(base / "gradebook.sqlite"), "--json",
                           str(base / "results.json")], env=env, cwd=base, capture_output=True,
                          text=True, timeout=1200, **who)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return {r["student"]: r for r in json.loads((base / "results.json").read_text())}


def _scores(results: dict[str, dict]) -> dict[str, dict[str, float]]:
    return {student: {c["id"]: c["score"] for c in result["checks"]}
            for student, result in results.items()}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_example_scores_the_same_in_every_mode(assignment, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("m")  # short: a forkserver's socket lives under TMPDIR
    rubric = _rubric_without_training(assignment, tmp_path)
    examples = REPO / "assignments" / assignment / "examples"
    scores = {}
    for mode in MODES:
        if mode_problem(mode):
            continue
        corpus = tmp_path / mode / "corpus"
        shutil.copytree(examples, corpus)
        scores[mode] = _scores(_grade(mode, tmp_path / mode, rubric, corpus))
    assert len(scores) >= 2, "fewer than two modes can run here"
    first = next(iter(scores))
    for mode, found in scores.items():
        assert found == scores[first], f"{mode} differs from {first}"


# --- the answer key, installed ----------------------------------------------------------

ATTACKS = ["control_correct", "read_reference_disk", "import_reference"]
READ_INSTALLED = '''"""Reads the answer key from where the test installed it (target.txt) and returns its
answers: full marks when that copy is readable."""
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _key():
    with open(os.path.join(_HERE, "target.txt")) as handle:
        path = os.path.join(handle.read().strip(), "reference", "filtering.py")
    namespace = {"__name__": "stolen"}
    with open(path) as handle:
        exec(compile(handle.read(), path, "exec"), namespace)
    return namespace


def my_imfilter(image, filter):
    return _key()["my_imfilter"](image, filter)


def create_hybrid_image(image1, image2, filter):
    return _key()["create_hybrid_image"](image1, image2, filter)
'''


def _install(python: str, target: list[str]) -> None:
    """``pip install .`` (no network: setuptools and wheel come from the harness's Python)
    by ``python``, into its own environment or ``target`` (never touching this one's)."""
    proc = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps",
                           "--no-build-isolation", *target, str(REPO)], capture_output=True,
                          text=True, cwd="/", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def venv_install(tmp_path_factory) -> str:
    """``pip install .`` into a venv (its packages: the harness's, inherited): its Python."""
    folder = tmp_path_factory.mktemp("installed") / "venv"
    folder.parent.chmod(0o711)  # the user mode's grader runs it
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(folder)], check=True)
    python = str(folder / "bin" / "python")
    _install(python, [])
    found = subprocess.run([python, "-c", "import reference; print(reference.__file__)"],
                           capture_output=True, text=True, cwd="/").stdout.strip()
    assert found.startswith(str(folder)) and (folder / "lib64").is_symlink(), found
    return python, str(Path(found).parents[1])


@pytest.fixture(scope="module")
def usr_install():
    """The harness installed into a folder of ``/usr`` (as a system prefix would hold it),
    put first on the grader's path; removed afterwards."""
    if os.geteuid() != 0 or not os.access("/usr/local/lib", os.W_OK):
        pytest.skip("installing into /usr needs root")
    folder = Path("/usr/local/lib") / f"cv-course-grader-test-{secrets.token_hex(4)}"
    try:
        _install(sys.executable, [f"--target={folder}", "--ignore-installed"])
        yield str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("installed", ["venv", "usr"])
def test_the_installed_answer_key_is_unreadable_in_every_mode(installed, mode, tmp_path, request):
    problem = mode_problem(mode)
    if problem:
        pytest.skip(problem)
    if installed == "venv":
        python, packages = request.getfixturevalue("venv_install")
        extra = {}
    else:
        python, packages = sys.executable, request.getfixturevalue("usr_install")
        extra = {"PYTHONPATH": packages}
    if mode == "user":
        os.chmod(tmp_path, 0o711)
    corpus = tmp_path / "corpus"
    for name in ATTACKS:
        shutil.copytree(REPO / "tests" / "hostile" / "submissions" / name, corpus / name)
    (corpus / "read_installed").mkdir()
    (corpus / "read_installed" / "student_code.py").write_text(READ_INSTALLED)
    (corpus / "read_installed" / "target.txt").write_text(packages)
    results = _grade(mode, tmp_path / "run", REPO / "tests" / "hostile" / "rubric.yaml", corpus,
                     python, extra)
    assert results["control_correct"]["score"] == 7
    attacks = [*ATTACKS[1:], "read_installed"] if installed == "venv" else ["read_installed"]
    stolen = {name: results[name]["score"] for name in attacks}
    if mode == "limits":  # the control: with resource limits only the key is read
        assert stolen == {name: 7 for name in attacks}
    else:
        assert stolen == {name: 0 for name in attacks}
        assert "files-verified" in results["control_correct"]["isolation"]
