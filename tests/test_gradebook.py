"""The gradebook keeps each result and its figures' arrays; a crash never loses a recorded grade."""

from __future__ import annotations

import numpy as np

from grader.store.gradebook import Gradebook
from grader.results import CheckResult, Status, SubmissionResult


def _result(student: str, score: float, finished: str) -> SubmissionResult:
    check = CheckResult("c1", "one", "f", Status.PASSED if score else Status.FAILED, score, 1.0,
                        artifacts={"output": np.arange(6, dtype=np.float32).reshape(2, 3)})
    return SubmissionResult(student, "hash-" + finished, "demo", "rubric", [check],
                            finished_at=finished)


def test_results_and_artifacts_round_trip(tmp_path):
    with Gradebook(tmp_path / "g.sqlite") as book:
        book.record(_result("ann", 1.0, "2026-01-01T00:00:00"))
    with Gradebook(tmp_path / "g.sqlite") as book:  # a new connection: it was committed
        (found,) = book.latest("demo")
        assert found.score == 1.0 and found.checks[0].artifacts == {}  # not inside the JSON
        arrays = book.artifacts(found)["c1"]
        np.testing.assert_array_equal(arrays["output"], np.arange(6).reshape(2, 3))


def test_latest_takes_each_students_newest_result(tmp_path):
    with Gradebook(tmp_path / "g.sqlite") as book:
        book.record(_result("ann", 0.0, "2026-01-01T00:00:00"))
        book.record(_result("ann", 1.0, "2026-01-02T00:00:00"))
        book.record(_result("bob", 0.0, "2026-01-01T00:00:00"))
        assert [(r.student, r.score) for r in book.latest()] == [("ann", 1.0), ("bob", 0.0)]


def test_transport_dict_carries_artifacts(tmp_path):
    result = _result("ann", 1.0, "2026-01-01T00:00:00")
    plain = result.to_dict()
    assert "artifacts" not in plain["checks"][0]
    moved = SubmissionResult.from_dict(result.to_dict(include_artifacts=True))
    np.testing.assert_array_equal(moved.checks[0].artifacts["output"],
                                  result.checks[0].artifacts["output"])
