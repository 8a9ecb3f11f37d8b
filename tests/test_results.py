"""The results model: frozen, typed where other stages read it, and older records read once
into today's fields."""

from __future__ import annotations

import dataclasses

import pytest

from grader.figures import Chart
from grader.report.student import check_figures
from grader.results import CheckResult, Status, SubmissionResult


def _old_record(**details) -> dict:
    """A check as the gradebook stored it before the named fields (and before ``kind``)."""
    return {"id": "c", "name": "c", "target": "f", "status": "failed", "score": 0.5,
            "max_score": 1.0, "message": "m", "details": details, "stdout": "",
            "duration_s": 0.1, "visibility": "visible"}


def test_results_are_frozen_and_changed_by_replace():
    check = CheckResult("c", "c", "f", Status.PASSED, 1.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        check.score = 0.0  # type: ignore[misc]
    result = SubmissionResult("ann", "h", "a", "r", [check])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.late_days = 2  # type: ignore[misc]
    assert dataclasses.replace(result, late_penalty=0.5).score == 0.5 and result.score == 1.0


def test_an_older_record_moves_the_facts_it_kept_in_details_to_their_fields():
    record = _old_record(limit_s=6.0, calls_run=2, calls_reused=1, max_abs_error=0.2,
                         override={"score": 1.0, "by": "ta", "at": "2026-01-01", "reason": "r"})
    check = CheckResult.from_dict(record)
    assert (check.limit_s, check.calls_run, check.calls_reused) == (6.0, 2, 1)
    assert check.override["by"] == "ta" and check.details == {"max_abs_error": 0.2}
    assert check.kind == "numeric"  # told by the numbers it recorded
    again = CheckResult.from_dict(check.to_dict())
    assert again == check  # a record written today reads back as it was


def test_an_older_training_record_gets_its_kind_device_and_metric():
    check = CheckResult.from_dict(_old_record(accuracy=0.72, device="cpu",
                                              confusion_matrix=[[1, 0], [0, 1]]))
    assert (check.kind, check.device, check.metric) == ("training", "cpu", 0.72)


def test_an_older_gradient_record_draws_its_chart_through_its_kind():
    check = CheckResult.from_dict(_old_record(rel_errors={"dx": 1e-3}, forward_rel_error=1e-9,
                                              rel_error_threshold=1e-6))
    assert check.kind == "gradient"
    (chart,) = check_figures(check, {})
    assert isinstance(chart, Chart) and "dx" in chart.alt


def test_a_record_no_number_tells_has_no_kind_and_no_figures():
    check = CheckResult.from_dict(_old_record(summary="x"))
    assert check.kind == "" and check_figures(check, {}) == []
