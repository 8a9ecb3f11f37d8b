"""Gradescope's autograder ``results.json``.

Top level: ``score``, ``execution_time``, ``output``, ``visibility``,
``stdout_visibility``, ``tests`` and, where the rubric names leaderboard
checks, ``leaderboard``. Each test has ``name``, ``number``, ``score``,
``max_score``, ``status`` (``passed``/``failed``), ``output``, ``visibility``
and ``tags``. Hidden checks map to Gradescope's ``after_published``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.export import FORMATS
from grader.results import Status, SubmissionResult

_VISIBILITY = {"visible": "visible", "hidden": "after_published", "after_due": "after_due_date"}


def results_json(result: SubmissionResult, leaderboard: Sequence[str] = ()) -> dict[str, Any]:
    """The ``results.json`` object for one submission."""
    tests = [{
        "name": check.name,
        "number": str(index),
        "score": check.score,
        "max_score": check.max_score,
        "status": "passed" if check.status == Status.PASSED else "failed",
        "output": _output(check),
        "visibility": _VISIBILITY.get(check.visibility, "visible"),
        "tags": [check.target, check.status.value],
    } for index, check in enumerate(result.checks, start=1)]
    data: dict[str, Any] = {
        "score": result.score,
        "execution_time": round(sum(c.duration_s for c in result.checks), 3),
        "output": "\n".join([f"{result.assignment}: {result.score:g}/{result.max_score:g}",
                             *result.notes]),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        # for the course staff (Gradescope shows students the fields above only)
        "isolation": {"sandbox": result.sandbox, "layers": result.isolation,
                      "missing": result.isolation_missing},
    }
    board = _leaderboard(result, leaderboard)
    if board:
        data["leaderboard"] = board
    return data


@FORMATS.register(name="gradescope")
def write(results: list[SubmissionResult], out: Path) -> None:
    """Write one submission's ``results.json`` (the export must select exactly one)."""
    if len(results) != 1:
        raise GraderError(f"the gradescope format holds one submission, but {len(results)} were "
                          "selected; add --student NAME")
    out.write_text(json.dumps(results_json(results[0]), indent=2), encoding="utf-8")


def _output(check) -> str:
    text = check.message
    if check.stdout and check.visibility == "visible":
        text += "\n\nYour code printed:\n" + check.stdout[-4000:]
    return text


def _leaderboard(result: SubmissionResult, check_ids: Sequence[str]) -> list[dict[str, Any]]:
    board = []
    for check in result.checks:
        if check.id in check_ids and check.metric is not None:
            board.append({"name": check.name, "value": round(check.metric, 4), "order": "desc"})
    return board
