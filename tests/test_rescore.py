"""Re-scoring an edited rubric from the stored outputs: no student code runs for what the edit
did not change, only the new requests run, and the scores equal a full regrade's."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.store.gradebook import Gradebook

from conftest import REPO, run_grader

EXAMPLES = REPO / "assignments" / "proj1_filtering" / "examples"
RUBRIC = (REPO / "assignments" / "proj1_filtering" / "rubric.yaml").read_text()
NO_DATA = {"GRADER_DATA": "/nonexistent"}  # the course-image checks are skipped, quickly

pytestmark = pytest.mark.slow  # three gradings of three submissions


def _edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    assert old in RUBRIC
    path = tmp_path / f"{name}.yaml"
    path.write_text(RUBRIC.replace(old, new, 1))
    return path


def _run(*args: str):
    proc = run_grader(*args, "-j", "2", env=NO_DATA, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _latest(db: Path) -> dict:
    with Gradebook(db) as book:
        return {r.student: r for r in book.latest()}


@pytest.fixture
def graded(tmp_path) -> Path:
    db = tmp_path / "gradebook.sqlite"
    _run("grade", "proj1_filtering", str(EXAMPLES), "--db", str(db), "--quiet")
    return db


def test_an_edited_tolerance_and_points_are_rescored_without_running_student_code(graded, tmp_path):
    # bob convolves (kernel flipped): with a tolerance of 10 his correlation check passes
    loose = _edited(tmp_path, "loose", "    points: 3\n    compare: {region: interior, margin_from: "
                    "filter, atol: 1.0e-4, rtol: 1.0e-4, outputs: [filtered_image]}\n    diagnoses:",
                    "    points: 6\n    compare: {region: interior, margin_from: filter, atol: 10, "
                    "rtol: 0, outputs: [filtered_image]}\n    diagnoses:")
    before = _latest(graded)
    proc = _run("rescore", str(loose), str(EXAMPLES), "--db", str(graded))
    assert "re-scored 3 submission(s)" in proc.stdout and "ran student code for" not in proc.stdout
    after = _latest(graded)
    for student, result in after.items():
        assert result.sandbox == "not started", student  # not one call ran
        assert all(not c.calls_run for c in result.checks)
        assert result.rubric_hash != before[student].rubric_hash
    bob_before = {c.id: c for c in before["bob_flipped_kernel"].checks}
    bob_after = {c.id: c for c in after["bob_flipped_kernel"].checks}
    assert bob_before["imfilter_correlation"].score < 3 and bob_after["imfilter_correlation"].score == 6
    # the same scores as grading everything again under the edited rubric
    fresh = tmp_path / "fresh.sqlite"
    _run("grade", str(loose), str(EXAMPLES), "--db", str(fresh), "--quiet")
    assert {s: r.score for s, r in _latest(fresh).items()} == {s: r.score for s, r in after.items()}
    with Gradebook(graded) as book:  # history keeps the grading and the re-scoring
        assert len(book.history("alice_correct")) == 2


def test_a_new_case_runs_only_that_request(graded, tmp_path):
    extra = _edited(tmp_path, "extra", "      - id: row_1x25\n", "      - id: wide_1x31\n        args:\n"
                    "          image: {image: {source: \"skimage:coffee\", scale: 0.25}}\n"
                    "          filter: {kernel: {name: gaussian, size: [1, 31], sigma: 10.0}}\n"
                    "      - id: row_1x25\n")
    proc = _run("rescore", str(extra), str(EXAMPLES), "--db", str(graded))
    assert "ran student code for: imfilter_nonsquare (3 submission(s))" in proc.stdout
    for result in _latest(graded).values():
        ran = {c.id: c.calls_run or 0 for c in result.checks}
        assert ran.pop("imfilter_nonsquare") == 1 and set(ran.values()) == {0}, ran


def test_outputs_are_stored_once_per_submission_and_request(graded):
    with Gradebook(graded) as book:
        alice = next(r for r in book.latest() if r.student == "alice_correct")
        stored = book.stored_calls(alice.content_hash)
    cases = sum(c.details.get("cases", 0) for c in alice.checks if c.status.value != "skipped")
    assert 0 < len(stored) <= cases
