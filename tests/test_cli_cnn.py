"""proj4_cnn (the course's Project 6) end to end through the real CLI on the bundled synthetic data (no course data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO, run_grader

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)

EXAMPLES = REPO / "assignments" / "proj4_cnn" / "examples"
ARITHMETIC = ["conv_output_size", "pool_output_size", "conv_parameters", "fc_parameters",
              "conv1x1_as_fc"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("graded-cnn")
    out = folder / "results.json"
    proc = run_grader("grade", "proj4_cnn", str(EXAMPLES), "-j", "1", "--db", str(folder / "db.sqlite"),
                      "--json", str(out), env={"GRADER_DATA": str(folder / "no-course-data")})
    assert proc.returncode == 0, proc.stderr
    return {r["student"]: {c["id"]: c for c in r["checks"]} for r in json.loads(out.read_text())}


def _run(check: dict) -> dict:
    """The numbers of a training check's only case (accuracy, device, epochs, seconds)."""
    (case,) = check["details"]["per_case"]
    return case


def test_correct_submission_passes_everything_it_can_run_here(graded):
    alice = graded["alice_correct"]
    for check_id in ["simplenet_output", "simplenet_batchnorm", "simplenet_init", "simplenet_dropout",
                     *ARITHMETIC]:
        assert alice[check_id]["status"] == "passed", alice[check_id]["message"]
    training = alice["train_glyphs"]
    assert _run(training)["accuracy"] >= 0.5, training["message"]
    scenes = alice["train_15scene"]
    assert scenes["status"] == "skipped" and scenes["max_score"] == 0 and "GRADER_DATA" in scenes["message"]


def test_training_scores_follow_accuracy(graded):
    alice, bob, carol = (graded[s]["train_glyphs"] for s in ("alice_correct", "bob_weak_model",
                                                              "carol_constant"))
    assert 0 < bob["score"] < bob["max_score"], bob["message"]
    assert carol["score"] == 0
    assert _run(alice)["accuracy"] > _run(bob)["accuracy"] > _run(carol)["accuracy"]
    for check in (alice, bob, carol):
        assert {"accuracy", "device", "epochs_completed", "train_seconds"} <= _run(check).keys()


def test_broken_architecture_is_reported_per_check(graded):
    dave = graded["dave_broken_classifier"]
    assert dave["simplenet_output"]["status"] == "error"
    assert "Kernel size can't be greater" in dave["simplenet_output"]["message"]
    assert dave["conv_parameters"]["status"] == "failed"  # forgot the biases
    assert dave["conv_output_size"]["status"] == "passed"


def test_student_check_runs_the_visible_checks(tmp_path):
    out = tmp_path / "check.json"
    proc = run_grader("check", "proj4_cnn", str(EXAMPLES / "bob_weak_model"), "--only", "simplenet_batchnorm",
                      "--json", str(out))
    assert proc.returncode == 1
    (check,) = json.loads(out.read_text())["checks"]
    assert "no batch normalisation after features.1" in check["message"]
