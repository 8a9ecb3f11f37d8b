"""A hang costs the submission, not the batch: calibrated limits and probation after a hang.

A call's limit follows the reference's time on its case (never over the rubric's), and once
a call of a function did not finish, the function's next calls get a short limit until one
finishes; a timeout under a shortened limit says why. The expected-output cache carries the
reference's times, sealed, and one written before them is recomputed, never half-believed.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import yaml

from grader import datapath, grading
from grader.checks import KINDS
from grader.intake import submission
from grader.prepare import expected as expected_outputs
from grader.prepare import sealed
from grader.prepare.expected import prepare
from grader.results import Status
from grader.rubric.load import load_rubric
from grader.rubric.model import Calibration, Defaults, Probation
from grader.sandbox import CallOutcome
from grader.sandbox.call_limits import CallLimits, calibrated

F = "student_code:my_imfilter"


# --- calibration ----------------------------------------------------------------------------

def test_a_calibrated_limit_follows_the_reference_and_never_exceeds_the_rubrics():
    rule = Calibration(factor=1000, floor_s=2)
    assert calibrated(60, 0.0001, rule).seconds == 2  # the floor
    assert calibrated(60, 0.01, rule).seconds == pytest.approx(10)  # 1000 × 10 ms
    assert calibrated(60, 0.02, rule).seconds == pytest.approx(20)  # follows it
    assert calibrated(60, 0.5, rule).seconds == 60 and not calibrated(60, 0.5, rule).shortened
    assert calibrated(1, 0.0001, rule).seconds == 1  # a floor above the rubric's: the rubric's
    assert calibrated(60, None, rule).seconds == 60  # not measured (a kit's case)
    assert calibrated(60, 0.0001, None).seconds == 60  # calibration off
    short = calibrated(60, 0.01, rule)
    assert short.shortened and "given 10 s, not its full 60 s" in short.explain()
    assert "10 ms on this case" in short.why and "1000×" in short.why


def test_only_kinds_whose_request_does_the_references_work_are_calibrated():
    assert {name for name, kind in KINDS.items() if kind.calibrated} == {"numeric"}
    limits = CallLimits(Calibration(factor=10, floor_s=1), Probation())
    assert limits.limit(F, 60, 0.001, calibrate=False).seconds == 60
    assert limits.limit(F, 60, 0.001, calibrate=True).seconds == 1


def test_the_rubric_defaults_calibrate_and_put_hangs_on_probation_and_both_can_be_off():
    assert Defaults().calibration == Calibration() and Defaults().probation == Probation()
    off = Defaults.model_validate({"calibration": None, "probation": None})
    assert off.calibration is None and off.probation is None
    tuned = Defaults.model_validate({"calibration": {"factor": 5000}})
    assert tuned.calibration == Calibration(factor=5000, floor_s=Calibration().floor_s)


# --- probation ------------------------------------------------------------------------------

def _ended(status: str, seconds: float = 1.0, **fields) -> CallOutcome:
    return CallOutcome(status, seconds=seconds, **fields)


def test_probation_follows_a_real_timeout_only_and_ends_when_a_call_finishes():
    limits = CallLimits(None, Probation(floor_s=2, factor=4, reference_factor=100))
    assert limits.limit(F, 60, 0.001, True).seconds == 60
    limits.ended(F, _ended("timeout", 60, crowded_out=True))  # the machine starved it
    limits.ended(F, _ended("timeout", 60, during_import=True))  # the import's own limit
    assert not limits.on_probation(F) and limits.limit(F, 60, 0.001, True).seconds == 60
    limits.ended(F, _ended("timeout", 60))
    given = limits.limit(F, 60, 0.001, True)
    assert given.probation and given.seconds == 2 and given.full_s == 60
    assert given.why == "an earlier call of my_imfilter did not finish within its limit"
    assert limits.limit("student_code:other", 60, 0.001, True).seconds == 60  # F alone
    assert limits.limit(F, 60, 0.05, True).seconds == pytest.approx(5)  # 100 × 50 ms
    assert limits.limit(F, 60, 0.05, False).seconds == 2  # not the reference's work
    limits.ended(F, _ended("returned", 0.0))  # a reused outcome: nothing ran, nothing proved
    assert limits.on_probation(F)
    limits.ended(F, _ended("raised", 0.3))
    assert not limits.on_probation(F) and limits.limit(F, 60, 0.001, True).seconds == 60


def test_probation_gives_at_least_a_multiple_of_what_the_function_needed_before():
    limits = CallLimits(None, Probation(floor_s=1, factor=4, reference_factor=1))
    limits.ended(F, _ended("returned", 2.5))
    limits.ended(F, _ended("returned", 0.1))
    limits.ended(F, _ended("timeout", 60))
    assert limits.limit(F, 60, 0.001, True).seconds == pytest.approx(10)  # 4 × 2.5 s
    assert limits.limit(F, 8, 0.001, True).seconds == 8  # never more than its own limit
    assert not limits.limit(F, 8, 0.001, True).shortened


def test_probation_shortens_a_calibrated_limit_only_where_it_is_shorter():
    limits = CallLimits(Calibration(factor=1000, floor_s=5), Probation(floor_s=3))
    limits.ended(F, _ended("timeout", 5))
    assert limits.limit(F, 60, 0.0001, True).seconds == 3  # calibrated 5 s, probation 3 s
    assert CallLimits(Calibration(factor=1000, floor_s=2), Probation(floor_s=3)).limit(
        F, 60, 0.0001, True).seconds == 2  # calibration already gives less


def test_only_a_timeout_that_ran_out_its_shortened_limit_says_so():
    from grader.checks.base import Verdict, _limit_explained

    given = CallLimits(Calibration(factor=1, floor_s=10)).limit(F, 60, 0.001, True)
    ran_out = _limit_explained(Verdict(False, "did not finish"), _ended("timeout", 10.2), given)
    assert "given 10 s, not its full 60 s" in ran_out.message
    assert ran_out.details["shortened_limit"]["given_s"] == 10
    for outcome in (_ended("timeout", 1.0),  # its own CPU-time limit (SIGXCPU), long before
                    _ended("timeout", 10.2, during_import=True), _ended("raised", 10.2)):
        verdict = _limit_explained(Verdict(False, "x"), outcome, given)
        assert verdict.message == "x" and "shortened_limit" not in verdict.details
    full = CallLimits().limit(F, 60, 0.001, True)
    assert _limit_explained(Verdict(False, "x"), _ended("timeout", 60), full).message == "x"


def test_without_probation_a_hang_changes_nothing():
    limits = CallLimits(None, None)
    limits.ended(F, _ended("timeout", 60))
    assert limits.limit(F, 60, 0.001, True).seconds == 60


# --- graded: a hanging function, an honest slow one -------------------------------------------

def _rubric(defaults: str, checks: list[tuple[str, list[int]]]) -> str:
    """A proj1-style rubric with ``defaults`` (YAML): ``checks`` of ``my_imfilter``, each with
    cases of these image heights."""
    data = {"assignment": "proj1_filtering", "reference": "reference.filtering",
            **yaml.safe_load(defaults or "{}"), "checks": [{
                "id": check_id, "name": check_id, "kind": "numeric", "target": F, "points": 1,
                "compare": {"region": "interior", "margin_from": "filter", "atol": 1.0e-4},
                "cases": [{"args": {"image": {"random": {"shape": [rows, 14, 3], "seed": 1}},
                                    "filter": {"kernel": {"name": "box", "size": 3}}}}
                          for rows in heights]} for check_id, heights in checks]}
    return yaml.safe_dump(data, sort_keys=False)


CORRECT = """
import time
import numpy as np


def _filter(image, kernel):
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="reflect")
    out = np.zeros_like(image)
    for u in range(3):
        for v in range(3):
            out += kernel[u, v] * padded[u:u + image.shape[0], v:v + image.shape[1]]
    return out
"""


def _grade(tmp_path, rubric_text: str, student: str):
    (tmp_path / "rubric.yaml").write_text(rubric_text)
    (tmp_path / "student").mkdir(exist_ok=True)
    (tmp_path / "student" / "student_code.py").write_text(CORRECT + textwrap.dedent(student))
    rubric, rubric_hash = load_rubric(tmp_path / "rubric.yaml")
    with submission.load(tmp_path / "student", rubric.modules) as loaded:
        result = grading.grade(loaded, rubric, rubric_hash, prepare(rubric, rubric_hash))
    return {c.id: c for c in result.checks}


@pytest.mark.slow  # over 2.5 s on a busy machine: pytest -m 'not slow' stays under 2 minutes
def test_a_call_that_finishes_under_probation_clears_the_function(tmp_path):
    """It sleeps on 10-row images (the first check) and answers the others: the second check
    is on probation (0.4 s, not 0.8 s) and its call finishes, which clears the function, so
    the third check's hang gets the full limit again."""
    checks = _grade(tmp_path, _rubric(
        "defaults: {timeout_s: 0.8, calibration: null, probation: {floor_s: 0.4}}",
        [("hangs", [10]), ("answers", [12]), ("hangs_again", [10])]), """
        def my_imfilter(image, filter):
            while image.shape[0] == 10:
                time.sleep(1000)
            return _filter(image, filter)
        """)
    assert checks["hangs"].status == Status.TIMEOUT
    assert "given" not in checks["hangs"].message  # its full limit
    assert checks["answers"].status == Status.PASSED
    assert checks["hangs_again"].status == Status.TIMEOUT and "given" not in \
        checks["hangs_again"].message and checks["hangs_again"].duration_s >= 0.75


def test_a_hanging_functions_later_case_gets_probation_and_the_message_says_why(tmp_path):
    checks = _grade(tmp_path, _rubric(
        "defaults: {timeout_s: 1, calibration: null, probation: {floor_s: 0.3}}",
        [("first", [10]), ("second", [11, 12])]), """
        def my_imfilter(image, filter):
            while True:
                time.sleep(1000)
        """)
    first, second = checks["first"], checks["second"]
    assert first.status == second.status == Status.TIMEOUT
    assert "shortened_limit" not in first.details and first.duration_s >= 0.95
    assert ("given 0.3 s, not its full 1 s, because an earlier call of my_imfilter did not "
            "finish within its limit") in second.message
    assert second.details["shortened_limit"] == {
        "given_s": 0.3, "full_s": 1.0,
        "why": "an earlier call of my_imfilter did not finish within its limit"}
    assert second.duration_s < 0.95  # one call under probation; the other case is not run


def test_an_honest_slow_function_is_never_shortened_below_what_it_needed(tmp_path):
    """0.25 s a call, and a hang on one case: after it, probation gives 4 × 0.25 s, not the
    0.1 s floor, so its next call finishes and passes."""
    checks = _grade(tmp_path, _rubric(
        "defaults: {timeout_s: 1.5, calibration: null, probation: {floor_s: 0.1, factor: 4}}",
        [("slow", [12]), ("hangs", [10]), ("slow_again", [13, 12])]), """
        def my_imfilter(image, filter):
            time.sleep(1000 if image.shape[0] == 10 else 0.25)
            return _filter(image, filter)
        """)
    assert checks["slow"].status == Status.PASSED
    assert checks["hangs"].status == Status.TIMEOUT
    assert checks["slow_again"].status == Status.PASSED, checks["slow_again"].message


def test_a_calibrated_limit_is_what_the_case_gets_and_what_the_report_shows(tmp_path):
    student = """
        def my_imfilter(image, filter):
            time.sleep(1000)
        """
    calibrated_run = _grade(tmp_path, _rubric(
        "defaults: {timeout_s: 5, calibration: {factor: 1, floor_s: 0.4}, probation: null}",
        [("sleeps", [10])]), student)["sleeps"]
    assert calibrated_run.status == Status.TIMEOUT and calibrated_run.limit_s == 0.4
    assert "given 0.4 s, not its full 5 s, because the reference takes" in calibrated_run.message
    assert "on this case on this machine and a call gets at most 1× that (at least 0.4 s)" \
        in calibrated_run.message
    full = _grade(tmp_path, _rubric("defaults: {timeout_s: 0.5, calibration: null}",
                                    [("sleeps", [10])]), student)["sleeps"]
    assert full.limit_s == 0.5 and "given" not in full.message


# --- the expected-output cache carries the reference's times ------------------------------------

def test_prepare_records_the_references_time_and_the_cache_keeps_it(tmp_path, monkeypatch):
    monkeypatch.setenv(datapath.CACHE_ENV, str(tmp_path / "cache"))
    (tmp_path / "rubric.yaml").write_text(_rubric("", [("one", [10, 11])]))
    rubric, digest = load_rubric(tmp_path / "rubric.yaml")
    first = [case.reference_s for case in prepare(rubric, digest)[0].cases]
    assert all(isinstance(s, float) and 0 < s < 5 for s in first)
    assert [case.reference_s for case in prepare(rubric, digest)[0].cases] == first  # cached


def test_a_cache_written_before_the_reference_was_timed_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv(datapath.CACHE_ENV, str(tmp_path / "cache"))
    (tmp_path / "rubric.yaml").write_text(_rubric("", [("one", [10])]))
    rubric, digest = load_rubric(tmp_path / "rubric.yaml")
    expected = prepare(rubric, digest)[0].cases[0].expected
    [manifest] = (tmp_path / "cache" / "prepared").glob("*.json")
    old = json.loads(sealed.read(manifest))
    for case in old:
        del case["reference_s"]  # as the grader wrote it before
    sealed.write(manifest, json.dumps(old).encode())
    assert expected_outputs._load_expected(manifest.stem) is None  # stale, not half-read
    again = prepare(rubric, digest)[0].cases[0]
    assert again.reference_s is not None and np.array_equal(again.expected[0], expected[0])
    assert "reference_s" in json.loads(sealed.read(manifest))[0]  # rewritten
