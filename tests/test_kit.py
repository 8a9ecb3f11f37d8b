"""Student kits: export, the answer-key scan, determinism, and the three ways in — from a fresh venv.

The fresh virtual environment is installed exactly as the kit's README says
(``pip install -r requirements.txt``), offline, from wheels repacked from this
environment (tests/wheelhouse.py).
"""

from __future__ import annotations

import ast
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
import yaml

from conftest import REPO, run_grader

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)

ASSIGNMENTS = sorted(p.parent.name for p in (REPO / "assignments").glob("*/rubric.yaml"))
EXAMPLES = REPO / "assignments" / "proj1_filtering" / "examples"


def _export(assignment: str, out: Path, zip_file: Path | None = None) -> Path:
    args = ["kit", assignment, "--out", str(out)] + (["--zip", str(zip_file)] if zip_file else [])
    proc = run_grader(*args)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def kits(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("kits")
    return {name: _export(name, folder / name) for name in ASSIGNMENTS}


def _files_and_members(root: Path):
    """Every file of the kit and every member of the zips (the wheel) in it, as (name, bytes)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        yield str(path.relative_to(root)), data
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as bundle:
                for name in bundle.namelist():
                    yield f"{path.name}!{name}", bundle.read(name)


def _reference_functions() -> dict[str, set[str]]:
    functions = {}
    for path in (REPO / "reference").glob("*.py"):
        tree = ast.parse(path.read_text())
        functions[path.name] = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return functions


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_exports_a_kit(kits, assignment):
    root = kits[assignment]
    manifest = json.loads((root / "grader_kit" / "kit.json").read_text())
    assert manifest["assignment"] == assignment and len(manifest["rubric_hash"]) == 16
    assert (root / "requirements.txt").read_text().startswith("./wheels/cv_course_grader_kit-")
    assert "pip install -r requirements.txt" in (root / "README.md").read_text()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_kit_holds_nothing_of_the_answer_key(kits, assignment):
    root = kits[assignment]
    rubric = yaml.safe_load((REPO / "assignments" / assignment / "rubric.yaml").read_text())
    hidden = [c["id"] for c in rubric["checks"] if c.get("visibility", "visible") != "visible"]
    targets = {c["target"].split(":")[0] for c in rubric["checks"]}  # provided helpers may have code
    reference_digests = {hashlib.sha256(p.read_bytes()).hexdigest()
                         for p in (REPO / "reference").rglob("*.py")}
    answers = set().union(*_reference_functions().values())
    for name, data in _files_and_members(root):
        assert "reference/" not in name and not name.startswith("reference")
        assert hashlib.sha256(data).hexdigest() not in reference_digests, name
        for check_id in hidden:
            assert check_id.encode() not in data, f"hidden check {check_id} named in {name}"
        if Path(name).stem in targets and "!" not in name:  # the stubs: no real bodies
            for node in ast.parse(data).body:
                if isinstance(node, ast.FunctionDef) and node.name in answers:
                    body = [s for s in node.body if not isinstance(s, ast.Expr)]
                    assert len(body) == 1 and _is_stub(body[0]), f"{name}:{node.name}"


def _is_stub(statement: ast.stmt) -> bool:
    """``raise NotImplementedError``, or the course starter's ``return None`` (use the defaults)."""
    return isinstance(statement, ast.Raise) or (
        isinstance(statement, ast.Return) and (statement.value is None or (
            isinstance(statement.value, ast.Constant) and statement.value.value is None)))


def test_reexport_is_byte_identical(tmp_path):
    _export("proj1_filtering", tmp_path / "a", tmp_path / "a.zip")
    _export("proj1_filtering", tmp_path / "b", tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_export_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "keep.txt").write_text("mine")
    proc = run_grader("kit", "proj1_filtering", "--out", str(tmp_path / "kit"))
    assert proc.returncode == 2 and "is not empty" in proc.stderr


# -- a student's machine: fresh venv, no bubblewrap needed, no answer key ---------------

NOTEBOOK_CELL = ('from grader import check\nreport = check("my_imfilter")\n'
                 'print(report)\nreport')


@pytest.fixture(scope="module")
def student_env(kits, tmp_path_factory):
    """A fresh venv with the proj1 kit installed per its README; returns (python, kit, seconds)."""
    import wheelhouse

    folder = tmp_path_factory.mktemp("student")
    kit = folder / "kit"
    shutil.copytree(kits["proj1_filtering"], kit)
    wheels = folder / "wheelhouse"
    wheelhouse.build(["numpy>=1.26", "pyyaml>=6", "jinja2>=3.1", "pydantic>=2.6", "click>=8.1",
                      "rich>=13", "pytest>=8", "ipykernel>=6"], wheels)
    venv = folder / "venv"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PIP_CONSTRAINT", None)
    for requirements in (["-r", "requirements.txt"], ["pytest", "ipykernel"]):
        proc = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *requirements], cwd=kit,
                              env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    return venv / "bin", kit, time.perf_counter() - started


def _student_run(bin_dir: Path, kit: Path, *command: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GRADER_DATA"))}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return subprocess.run(list(command), cwd=kit, env=env, capture_output=True, text=True,
                          timeout=600)


def _use(kit: Path, example: str) -> None:
    shutil.copyfile(EXAMPLES / example / "student_code.py", kit / "student_code.py")


def test_fresh_venv_has_no_answer_key(student_env):
    bin_dir, kit, _ = student_env
    proc = _student_run(bin_dir, kit, "python", "-c", "import reference")
    assert proc.returncode != 0 and "No module named 'reference'" in proc.stderr


@pytest.mark.parametrize("example, exit_code", [("alice_correct", 0), ("bob_flipped_kernel", 1)])
def test_shell_pytest_and_notebook_agree(student_env, tmp_path, example, exit_code):
    bin_dir, kit, _ = student_env
    _use(kit, example)
    shell = _student_run(bin_dir, kit, "grader", "check", "--json", str(tmp_path / "r.json"))
    assert shell.returncode == exit_code, shell.stdout + shell.stderr
    result = {c["id"]: c for c in json.loads((tmp_path / "r.json").read_text())["checks"]}

    tests = _student_run(bin_dir, kit, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                         "-rA")
    assert tests.returncode == exit_code, tests.stdout
    for check_id, check in result.items():
        if check["status"] == "passed":
            assert f"PASSED grader_kit/kit.json::{check_id}[" in tests.stdout
        elif check["status"] == "failed":
            assert f"FAILED grader_kit/kit.json::{check_id}[" in tests.stdout
            assert check["message"] in tests.stdout

    notebook = _run_notebook(bin_dir, kit, tmp_path)
    for check_id, check in result.items():
        if check["target"] == "my_imfilter":
            assert f"{check['status']:8} {check['score']:g}/{check['max_score']:g}  {check_id}: " \
                   f"{check['message']}" in notebook


def test_pytest_k_selects_a_function(student_env):
    bin_dir, kit, _ = student_env
    _use(kit, "bob_flipped_kernel")
    proc = _student_run(bin_dir, kit, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-k", "create_hybrid_image")
    assert proc.returncode == 0 and "deselected" in proc.stdout


def test_notebook_sees_edits_without_restarting(student_env, tmp_path):
    bin_dir, kit, _ = student_env
    _use(kit, "bob_flipped_kernel")
    code = ('from grader import check\nfirst = check("imfilter_correlation")\n'
            'import shutil\nshutil.copyfile(%r, "student_code.py")\n'
            'second = check("imfilter_correlation")\nprint(first.passed, second.passed)'
            % str(EXAMPLES / "alice_correct" / "student_code.py"))
    assert "False True" in _run_notebook(bin_dir, kit, tmp_path, code)


def _run_notebook(bin_dir: Path, kit: Path, tmp_path: Path, code: str = NOTEBOOK_CELL) -> str:
    """Execute a one-cell notebook headless with the venv's kernel; return its text output."""
    import nbformat
    from nbclient import NotebookClient

    spec_dir = tmp_path / "kernels"
    subprocess.run([str(bin_dir / "python"), "-m", "ipykernel", "install", "--prefix",
                    str(spec_dir), "--name", "kitvenv"], check=True, capture_output=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    os.environ["JUPYTER_PATH"] = str(spec_dir / "share" / "jupyter")
    try:
        NotebookClient(notebook, kernel_name="kitvenv", timeout=300,
                       resources={"metadata": {"path": str(kit)}}).execute()
    finally:
        os.environ.pop("JUPYTER_PATH", None)
    outputs = notebook.cells[0].outputs
    texts = [o.get("text", "") for o in outputs] + [
        o.get("data", {}).get("text/plain", "") + o.get("data", {}).get("text/html", "")
        for o in outputs]
    return "\n".join(texts)
