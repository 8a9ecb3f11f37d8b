"""The main job end to end through the real CLI: grade the bundled examples, check, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO, run_grader

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)

EXAMPLES = REPO / "assignments" / "proj1_filtering" / "examples"
COURSE_CHECKS = {"imfilter_course_cat", "hybrid_course_dog_cat"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[list[dict], Path, object]:
    folder = tmp_path_factory.mktemp("graded")
    db, out = folder / "gradebook.sqlite", folder / "results.json"
    proc = run_grader("grade", "proj1_filtering", str(EXAMPLES), "--db", str(db), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), db, proc


def _by_student(results: list[dict]) -> dict[str, dict]:
    return {r["student"]: r for r in results}


def _checks(result: dict) -> dict[str, dict]:
    return {c["id"]: c for c in result["checks"]}


def test_json_lists_every_submission_with_the_required_fields(graded):
    results, _, _ = graded
    assert sorted(r["student"] for r in results) == ["alice_correct", "bob_flipped_kernel",
                                                      "carol_incomplete"]
    for result in results:
        assert {"student", "score", "max_score", "checks"} <= result.keys()
        for check in result["checks"]:
            assert {"id", "target", "status", "score", "max_score", "message"} <= check.keys()


def test_correct_submission_gets_full_marks(graded):
    alice = _by_student(graded[0])["alice_correct"]
    assert alice["score"] == alice["max_score"] > 0
    for check in alice["checks"]:
        assert check["status"] in ("passed", "skipped")
        assert check["status"] == "passed" or check["id"] in COURSE_CHECKS


def test_flipped_kernel_keeps_only_symmetric_points(graded):
    bob = _checks(_by_student(graded[0])["bob_flipped_kernel"])
    for check_id in ("imfilter_identity", "imfilter_symmetric", "imfilter_nonsquare", "hybrid_image"):
        assert bob[check_id]["status"] == "passed"
    correlation = bob["imfilter_correlation"]
    assert correlation["status"] == "failed" and correlation["score"] == 0
    assert "looks like convolution: kernel flipped?" in correlation["message"]
    hidden = bob["imfilter_hidden"]
    assert hidden["score"] == pytest.approx(0.6)  # only the symmetric high-pass case of five
    assert "flipped" not in hidden["message"]  # hidden checks give no hints


def test_incomplete_submission_loses_the_hybrid_only(graded):
    carol = _checks(_by_student(graded[0])["carol_incomplete"])
    hybrid = carol["hybrid_image"]
    assert hybrid["status"] == "error" and hybrid["score"] == 0
    assert "NotImplementedError" in hybrid["message"]
    for check_id in ("imfilter_identity", "imfilter_symmetric", "imfilter_correlation",
                     "imfilter_nonsquare", "imfilter_hidden"):
        assert carol[check_id]["status"] == "passed"


def test_course_checks_run_with_course_data(graded, course_data):
    alice = _checks(_by_student(graded[0])["alice_correct"])
    assert all(alice[c]["status"] == "passed" for c in COURSE_CHECKS)
    assert _by_student(graded[0])["alice_correct"]["max_score"] == 22


def test_course_checks_skip_without_course_data(tmp_path):
    out = tmp_path / "r.json"
    proc = run_grader("grade", "proj1_filtering", str(EXAMPLES / "alice_correct"),
                      "--db", str(tmp_path / "db.sqlite"), "--json", str(out),
                      env={"GRADER_DATA": str(tmp_path / "nowhere")})
    assert proc.returncode == 0, proc.stderr
    (alice,) = json.loads(out.read_text())
    checks = _checks(alice)
    for check_id in COURSE_CHECKS:
        assert checks[check_id]["status"] == "skipped" and checks[check_id]["max_score"] == 0
        assert "GRADER_DATA" in checks[check_id]["message"]
    assert alice["score"] == alice["max_score"] == 18


def test_regrading_reuses_the_gradebook(graded, tmp_path):
    _, db, _ = graded
    proc = run_grader("grade", "proj1_filtering", str(EXAMPLES), "--db", str(db))
    assert proc.returncode == 0
    assert proc.stdout.count("(from gradebook)") == 3


def test_student_check_exit_codes(tmp_path):
    good = run_grader("check", "proj1_filtering", str(EXAMPLES / "alice_correct"))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "imfilter_hidden" not in good.stdout  # students see visible checks only
    bad = run_grader("check", "proj1_filtering", str(EXAMPLES / "bob_flipped_kernel"))
    assert bad.returncode == 1
    assert "kernel flipped?" in bad.stdout and "filtered an image of shape" in bad.stdout
    assert "np.float (line 11)" in bad.stdout


def test_check_only_one_check(tmp_path):
    out = tmp_path / "one.json"
    proc = run_grader("check", "proj1_filtering", str(EXAMPLES / "bob_flipped_kernel"),
                      "--only", "imfilter_identity", "--json", str(out))
    assert proc.returncode == 0
    assert [c["id"] for c in json.loads(out.read_text())["checks"]] == ["imfilter_identity"]


def test_report_renders_every_student(graded, tmp_path):
    _, db, _ = graded
    proc = run_grader("report", "--db", str(db), "--out", str(tmp_path / "reports"))
    assert proc.returncode == 0, proc.stderr
    index = (tmp_path / "reports" / "index.html").read_text()
    for student in ("alice_correct", "bob_flipped_kernel", "carol_incomplete"):
        page = tmp_path / "reports" / f"proj1_filtering--{student}.html"
        assert student in index and page.is_file()
    bob = (tmp_path / "reports" / "proj1_filtering--bob_flipped_kernel.html").read_text()
    assert "kernel flipped?" in bob and "filtered an image of shape" in bob


@pytest.mark.parametrize("args, message", [
    (["grade", "proj9_unknown", str(EXAMPLES)], "unknown assignment 'proj9_unknown'; known assignments: "),
    (["grade", "rubrics/absent.yaml", str(EXAMPLES)], "rubric file rubrics/absent.yaml not found"),
    (["--data", "/nonexistent", "grade", "proj1_filtering", str(EXAMPLES)], "--data /nonexistent: no such folder"),
    (["check", "proj1_filtering", str(EXAMPLES / "alice_correct"), "--only", "nope"], "no visible check matches nope; choose from "),
])
def test_user_errors_are_one_sentence_and_exit_2(args, message):
    proc = run_grader(*args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {message}")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
