"""Course environments: definitions, offline builds, the sandbox running their interpreter,
and old numpy-1 code graded under numpy 1.26 the way it was written.

The numpy-1 tests need the shipped ``numpy1`` environment built (``grader env build
proj3_backprop``: the README's install command and ``.ci/run`` do it); the other tests
build small environments offline from a wheel made here.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest

from grader import grading
from grader.rubric import environments
from grader.intake import submission
from grader.rubric.environments import CourseEnvironmentError, EnvironmentSpec
from grader.errors import RubricError
from grader.prepare.expected import prepare
from grader.rubric.load import Rubric, load_rubric, rubric_hash
from grader.sandbox import SandboxSession
from grader.sandbox.mounts import Interpreter
from test_gradient_check import AFFINE, CONV  # the same two checks, graded here under numpy 1

ROOT = Path(__file__).resolve().parents[1]
DEFINITIONS = ROOT / "assignments" / "environments"
REFERENCE_SOURCE = (ROOT / "reference" / "layers.py").read_text()

# CS231n-era code: three things numpy 2 rejects and numpy 1.26 runs (with a warning at most)
NUMPY1_LAYERS = '''
def affine_forward(x, w, b):
    out = np.reshape(x, newshape=(x.shape[0], -1)).dot(w) + b
    return out, (x, w, b)


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = int(np.array([conv_param["stride"]])), conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_pad = np.lib.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), "constant")
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)
'''


# -- definitions ----------------------------------------------------------------------


def test_the_shipped_definitions_load_and_name_their_file():
    spec, raw = environments.load(DEFINITIONS, "numpy1")
    assert spec.requirements == ["numpy>=1.26,<2"] and raw["name"] == "numpy1"
    assert spec.folder.name == f"numpy1-{spec.key}"


def test_an_unknown_environment_names_the_defined_ones(tmp_path):
    with pytest.raises(CourseEnvironmentError, match=r"'numpy0' is not defined.*defined: f18_proj6, numpy1"):
        environments.load(DEFINITIONS, "numpy0")


@pytest.mark.parametrize("text, problem", [
    ("name: other\nrequirements: [numpy]\n", "the file must be named other.yaml"),
    ("name: broken\nrequirements: []\n", "requirements: List should have at least 1 item"),
    ("name: broken\nrequirements: [numpy]\npython: '3.6'\n", "python: Extra inputs"),
])
def test_a_bad_definition_is_one_sentence(tmp_path, text, problem):
    (tmp_path / "broken.yaml").write_text(text)
    with pytest.raises(CourseEnvironmentError, match=problem):
        environments.load(tmp_path, "broken")


def test_the_key_follows_the_definition_not_its_description():
    base = EnvironmentSpec(name="e", requirements=["numpy<2"])
    assert base.key == EnvironmentSpec(name="e", requirements=["numpy<2"], description="x").key
    assert base.key != EnvironmentSpec(name="e", requirements=["numpy<1.26"]).key
    assert base.key != EnvironmentSpec(name="e", requirements=["numpy<2"], inherit_harness=True).key


def test_a_rubric_naming_an_unknown_environment_fails_at_load_with_its_line(tmp_path):
    text = (ROOT / "assignments" / "proj3_backprop" / "rubric.yaml").read_text()
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("environment:"))
    rubric = tmp_path / "proj3_backprop.yaml"
    rubric.write_text(text.replace("environment: numpy1", "environment: numpy0"))
    (tmp_path / "environments").mkdir()
    with pytest.raises(RubricError, match=rf"line {line}, environment: .*'numpy0' is not defined"):
        load_rubric(rubric)


def test_the_rubric_hash_changes_with_its_environment(tmp_path):
    text = (ROOT / "assignments" / "proj3_backprop" / "rubric.yaml").read_text()
    (tmp_path / "proj3_backprop.yaml").write_text(text)
    (tmp_path / "environments").mkdir()
    definition = (DEFINITIONS / "numpy1.yaml").read_text()
    (tmp_path / "environments" / "numpy1.yaml").write_text(definition)
    first = load_rubric(tmp_path / "proj3_backprop.yaml")[1]
    (tmp_path / "environments" / "numpy1.yaml").write_text(definition.replace("<2", "<1.27"))
    assert load_rubric(tmp_path / "proj3_backprop.yaml")[1] != first


# -- building offline, and the sandbox running the environment's interpreter -----------


def _wheel(folder: Path, name: str, version: str, source: str) -> Path:
    """A pure-Python wheel of one module ``name`` (what a course's wheel folder holds)."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}.py": source,
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n"}
    record = [f"{path},sha256={_digest(text)},{len(text.encode())}" for path, text in files.items()]
    files[f"{dist}/RECORD"] = "\n".join(record + [f"{dist}/RECORD,,"]) + "\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def course_lib_env(tmp_path_factory):
    """An environment of the harness's packages plus ``courselib`` 1.0, built offline."""
    wheels = tmp_path_factory.mktemp("wheels")
    _wheel(wheels, "courselib", "1.0", "ANSWER = 42\n")
    root = tmp_path_factory.mktemp("envs")
    spec = EnvironmentSpec(name="courselib", requirements=["courselib==1.0"], inherit_harness=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(environments.ENVS_ENV, str(root))
        built = environments.ensure(spec, wheels=wheels)
        assert environments.ensure(spec) == built  # built once; found the second time
        key = spec.key
    return built, key, root


@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_an_environment_builds_offline_from_a_wheel_folder(course_lib_env):
    built, key, root = course_lib_env
    assert built.packages["courselib"] == "1.0" and "numpy" in built.packages
    assert built.root == root / f"courselib-{key}"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [built.root.name]
    version = subprocess.run([str(built.python), "-I", "-c", "import courselib; print(courselib.ANSWER)"],
                             capture_output=True, text=True, check=True).stdout
    assert version.strip() == "42"


def test_a_failed_build_says_why_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(environments.ENVS_ENV, str(tmp_path))
    spec = EnvironmentSpec(name="missing", requirements=["nosuchpackage==9"])
    with pytest.raises(CourseEnvironmentError, match="building environment missing failed at install"):
        environments.ensure(spec, wheels=tmp_path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_the_sandbox_runs_the_environments_interpreter(course_lib_env, tmp_path):
    built, _, _ = course_lib_env
    (tmp_path / "student.py").write_text(textwrap.dedent("""
        import sys
        def probe():
            import courselib
            return [courselib.ANSWER, sys.prefix]
    """))
    interpreter = Interpreter(str(built.python), str(built.root))
    with SandboxSession(tmp_path, interpreter=interpreter) as session:
        inside = session.call("student", "probe", [], timeout_s=30)
    with SandboxSession(tmp_path) as session:
        harness = session.call("student", "probe", [], timeout_s=30)
    assert inside.status == "returned", inside.error
    assert inside.outputs == [42, str(built.root)]
    assert harness.status == "raised" and "No module named 'courselib'" in harness.error


# -- numpy-1 code under the numpy1 environment --------------------------------------------


@pytest.fixture(scope="module")
def numpy1():
    spec, _ = environments.load(DEFINITIONS, "numpy1")
    if environments.built(spec) is None:
        pytest.skip("the numpy1 environment is not built: run `grader env build proj3_backprop`")
    return spec


def _grade_numpy1_code(tmp_path: Path, spec: EnvironmentSpec | None) -> dict:
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    (folder / "layers.py").write_text(REFERENCE_SOURCE + NUMPY1_LAYERS)
    data = {"assignment": "numpy1_demo", "reference": "reference.layers",
            "defaults": {"timeout_s": 20}, "checks": [AFFINE, CONV]}
    rubric = Rubric.model_validate({**data, "environment": spec and spec.name,
                                    "environment_spec": spec})
    digest = rubric_hash({**data, "environment_spec": spec and spec.model_dump()})
    with submission.load(folder, rubric.modules) as loaded:
        result = grading.grade(loaded, rubric, digest, prepare(rubric, digest))
    return {"versions": result.versions, **{check.id: check for check in result.checks}}


def test_numpy1_code_earns_full_marks_under_numpy_1_26(numpy1, tmp_path):
    graded = _grade_numpy1_code(tmp_path, numpy1)
    assert graded["versions"]["environment"] == "numpy1"
    assert graded["versions"]["numpy"].startswith("1.26")
    for check in ("affine", "conv"):
        assert graded[check].score == graded[check].max_score, graded[check].message


def test_numpy1_code_on_numpy_2_names_the_removed_api_and_the_environment(tmp_path):
    graded = _grade_numpy1_code(tmp_path, None)
    affine, conv = graded["affine"], graded["conv"]
    assert affine.score == 0 and conv.score == 0
    assert "newshape= keyword was removed in numpy 2" in affine.message
    assert "numpy 1.26 runs it: the course environment `numpy1`" in affine.message
    assert "one-element array that is not 0-d is an error in numpy 2" in conv.message


def test_the_shipped_old_api_message_names_a_shipped_environment():
    from grader.checks._old_apis import NUMPY1_ENVIRONMENT

    assert (DEFINITIONS / f"{NUMPY1_ENVIRONMENT}.yaml").is_file()
    assert environments.load(DEFINITIONS, NUMPY1_ENVIRONMENT)[0].requirements == ["numpy>=1.26,<2"]


def test_proj3_runs_in_numpy1_and_stored_outcomes_follow_the_environment():
    rubric, _ = load_rubric(ROOT / "assignments" / "proj3_backprop" / "rubric.yaml")
    spec, _ = environments.load(DEFINITIONS, "numpy1")
    assert rubric.environment_spec == spec
    # an outcome stored under another environment (or none) never answers a re-score
    assert spec.key in grading.worker_context(rubric)
    plain = rubric.model_copy(update={"environment": None, "environment_spec": None})
    assert grading.worker_context(plain) == ""


def test_a_kit_says_which_environment_its_checks_run_the_code_in():
    from grader.kit import _readme

    rubric, _ = load_rubric(ROOT / "assignments" / "proj3_backprop" / "rubric.yaml")
    text = _readme(ROOT / "assignments" / "proj3_backprop" / "kit", rubric)
    assert "the environment\n`numpy1` (numpy 1.26" in text
    plain = rubric.model_copy(update={"environment": None, "environment_spec": None})
    assert "course's packages" not in _readme(ROOT / "assignments" / "proj3_backprop" / "kit", plain)
