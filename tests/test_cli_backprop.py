"""Project 3 end to end through the real CLI: the answer key, the kit and the bundled examples.

Each example has one classic bug and must lose exactly that gradient's share of
its checks: per case, 2/3 of the points are shared by the gradients in ``wrt``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_grader

EXAMPLES = REPO / "assignments" / "proj3_backprop" / "examples"
RUBRIC = yaml.safe_load((REPO / "assignments" / "proj3_backprop" / "rubric.yaml").read_text())
POINTS = {check["id"]: check["points"] for check in RUBRIC["checks"]}
WRT = {check["id"]: len(check["options"]["wrt"]) for check in RUBRIC["checks"]}
HIDDEN = {check["id"] for check in RUBRIC["checks"] if check.get("visibility") == "hidden"}
pytestmark = pytest.mark.slow  # a fixture grades the whole batch through the CLI (over 10 s)

# the checks each example fails, and the one gradient (index in wrt) it gets wrong
BUGS = {
    "bob_unflipped_kernel": {"conv": "dx", "conv_hidden": "dx"},
    "carol_db_wrong_axis": {"affine": "db", "affine_hidden": "db"},
    "dave_pool_whole_window": {"max_pool": "dx", "max_pool_hidden": "dx"},
}


def _one_gradient_lost(check_id: str) -> float:
    return POINTS[check_id] * (1 - (2 / 3) / WRT[check_id])


@pytest.fixture(scope="module")
def answer_key(tmp_path_factory) -> Path:
    """A submission whose layers.py is the reference's source (the sandbox cannot import it)."""
    folder = tmp_path_factory.mktemp("answer_key") / "answer_key"
    folder.mkdir()
    shutil.copy(REPO / "reference" / "layers.py", folder / "layers.py")
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory, answer_key) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("graded")
    out = folder / "results.json"
    proc = run_grader("grade", "proj3_backprop", str(EXAMPLES), str(answer_key),
                      "--db", str(folder / "gradebook.sqlite"), "--json", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return {r["student"]: {c["id"]: c for c in r["checks"]} for r in json.loads(out.read_text())}


@pytest.mark.parametrize("student", ["answer_key", "alice_correct"])
def test_correct_submissions_get_full_marks_on_every_check(graded, student):
    checks = graded[student]
    assert set(checks) == set(POINTS)
    for check in checks.values():
        assert check["status"] == "passed", (check["id"], check["message"])
        assert check["score"] == check["max_score"] == POINTS[check["id"]]


@pytest.mark.parametrize("student", sorted(BUGS))
def test_each_bug_loses_exactly_its_gradient(graded, student):
    checks = graded[student]
    for check_id, check in checks.items():
        if check_id in BUGS[student]:
            assert check["status"] == "failed"
            assert check["score"] == pytest.approx(_one_gradient_lost(check_id))
            assert f"{BUGS[student][check_id]} has" in check["message"]
        else:
            assert check["status"] == "passed" and check["score"] == POINTS[check_id], check_id


def test_visible_messages_diagnose_and_hidden_ones_do_not(graded):
    carol, dave = graded["carol_db_wrong_axis"], graded["dave_pool_whole_window"]
    assert "summed over the wrong axis?" in carol["affine"]["message"]
    assert "gradient sent to every input" in dave["max_pool"]["message"]
    for student in BUGS:
        for check_id in HIDDEN & set(BUGS[student]):
            assert "?" not in graded[student][check_id]["message"]


def test_student_check_of_the_answer_key_passes(answer_key):
    proc = run_grader("check", "proj3_backprop", str(answer_key))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "total 30/30" in proc.stdout
    assert not any(check_id in proc.stdout for check_id in HIDDEN)


def test_the_kit_stubs_score_zero_with_a_clear_message(tmp_path):
    out = tmp_path / "kit.json"
    proc = run_grader("check", "proj3_backprop", str(REPO / "assignments" / "proj3_backprop" / "kit"),
                      "--json", str(out))
    assert proc.returncode == 1
    result = json.loads(out.read_text())
    assert result["score"] == 0
    for check in result["checks"]:
        assert check["status"] == "error" and "NotImplementedError" in check["message"]


# the 2016 CS231n kit's own softmax_loss (provided to students in layers.py): shift, then log p
COURSE_SOFTMAX = """
import numpy as np


def softmax_loss(x, y):
    probs = np.exp(x - np.max(x, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
"""
UNSHIFTED = COURSE_SOFTMAX.replace("np.exp(x - np.max(x, axis=1, keepdims=True))", "np.exp(x)")


@pytest.mark.parametrize("source, hidden", [(COURSE_SOFTMAX, "passed"), (UNSHIFTED, "failed")])
def test_the_courses_own_softmax_earns_the_hidden_case_and_no_shift_does_not(tmp_path, source,
                                                                            hidden):
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "layers.py").write_text(source)
    out = tmp_path / "results.json"
    proc = run_grader("grade", "proj3_backprop", str(tmp_path / "student"), "--db",
                      str(tmp_path / "g.sqlite"), "--json", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    checks = {c["id"]: c for c in json.loads(out.read_text())[0]["checks"]}
    assert checks["softmax"]["status"] == "passed", checks["softmax"]["message"]
    assert checks["softmax_hidden"]["status"] in ({hidden} if hidden == "passed"
                                                  else {"failed", "error"}), \
        checks["softmax_hidden"]["message"]
