"""Project 2 end to end through the real CLI: the reference as a submission, the examples, course data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_grader

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)

EXAMPLES = REPO / "assignments" / "proj2_features" / "examples"
COURSE_CHECKS = {"accuracy_notre_dame", "accuracy_mount_rushmore"}
# kit module name → reference module that implements it
REFERENCE_MODULES = {"student_harris": "harris", "student_sift": "sift",
                     "student_feature_matching": "matching"}


def _reference_submission(folder: Path) -> Path:
    """The reference modules under the kit's file names (the sandbox cannot import ``reference``)."""
    folder.mkdir()
    for kit, reference in REFERENCE_MODULES.items():
        shutil.copyfile(REPO / "reference" / f"{reference}.py", folder / f"{kit}.py")
    return folder


def _grade(tmp: Path, *paths: Path, env: dict | None = None) -> dict[str, dict]:
    out = tmp / "results.json"
    proc = run_grader("grade", "proj2_features", *map(str, paths), "--db", str(tmp / "db.sqlite"),
                      "--json", str(out), "--quiet", env=env)
    assert proc.returncode == 0, proc.stderr
    return {r["student"]: r for r in json.loads(out.read_text())}


def _checks(result: dict) -> dict[str, dict]:
    return {c["id"]: c for c in result["checks"]}


@pytest.fixture(scope="module")
def without_data(tmp_path_factory) -> dict[str, dict]:
    """The reference and the three examples, graded with an empty course-data folder."""
    tmp = tmp_path_factory.mktemp("proj2")
    empty = tmp / "no-data"
    empty.mkdir()
    return _grade(tmp, _reference_submission(tmp / "reference_solution"), EXAMPLES,
                  env={"GRADER_DATA": str(empty)})


def test_course_checks_skip_cleanly_without_course_data(without_data):
    for result in without_data.values():
        checks = _checks(result)
        for check_id in COURSE_CHECKS:
            assert checks[check_id]["status"] == "skipped" and checks[check_id]["max_score"] == 0
            assert "GRADER_DATA" in checks[check_id]["message"]
        assert result["max_score"] == 25


@pytest.mark.parametrize("student", ["reference_solution", "ada_correct"])
def test_correct_submissions_get_full_marks(without_data, student):
    result = without_data[student]
    assert result["score"] == result["max_score"] == 25
    assert all(c["status"] in ("passed", "skipped") for c in result["checks"])


def test_arctan_bug_loses_the_descriptor_layout_only(without_data):
    checks = _checks(without_data["ben_arctan"])
    layout = checks["sift_layout"]
    assert layout["status"] == "failed" and layout["score"] == 0
    assert "arctan2" in layout["message"] and "cosine" in layout["message"]
    others = [c for c in checks.values() if c["id"] != "sift_layout"]
    assert all(c["status"] in ("passed", "skipped") for c in others)


def test_bent_api_is_graded_fairly_with_notes(without_data):
    checks = _checks(without_data["cat_bent_api"])
    assert checks["harris_corners"]["status"] == "passed"
    assert "returned 3 values" in checks["harris_corners"]["message"]
    assert checks["sift_layout"]["status"] == "passed"
    assert "(40, 1, 128), read as (40, 128)" in checks["sift_layout"]["message"]
    assert checks["match_unit_vectors"]["status"] == "passed"
    assert checks["accuracy_synthetic"]["score"] > 2.9
    clipping = checks["sift_clipping"]
    assert clipping["status"] == "failed" and "clip at 0.2" in clipping["message"]
    # its matches come unsorted: no ranking, which the query order no longer hides
    ranking = checks["match_ranking"]
    assert ranking["status"] == "failed" and "most distinctive" in ranking["message"]
    assert without_data["cat_bent_api"]["score"] == pytest.approx(23, abs=0.1)


def test_timing_reports_a_ratio_not_a_time(without_data):
    speed = _checks(without_data["ada_correct"])["sift_speed"]
    assert speed["visibility"] == "hidden" and "x the reference's time" in speed["message"]
    assert speed["details"]["per_case"][0]["ratio"] > 0


def test_student_check_shows_notes_and_exits_1(tmp_path):
    proc = run_grader("check", "proj2_features", str(EXAMPLES / "cat_bent_api"),
                      "--only", "sift_clipping", "--only", "harris_corners")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "clip at 0.2" in proc.stdout and "returned 3 values" in proc.stdout


@pytest.mark.slow
def test_course_pairs_with_course_data(course_data, tmp_path):
    results = _grade(tmp_path, _reference_submission(tmp_path / "reference_solution"),
                     EXAMPLES / "cat_bent_api")
    reference = results["reference_solution"]
    assert reference["score"] == reference["max_score"] == 34
    notre_dame = _checks(results["cat_bent_api"])["accuracy_notre_dame"]
    details = notre_dame["details"]["per_case"][0]
    assert details["accuracy_sorted_ascending"] > details["accuracy"]
    assert 0 < notre_dame["score"] < notre_dame["max_score"]
    assert "ascending" in notre_dame["message"] and "distances" in notre_dame["message"]
