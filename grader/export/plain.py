"""Plain exports: a CSV with one row per student and one column per check, and full JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from grader.export import FORMATS
from grader.results import SubmissionResult


@FORMATS.register(name="csv")
def write_csv(results: list[SubmissionResult], out: Path) -> None:
    """``student, assignment, score, max_score, raw_score, late_days, <check ids...>``."""
    check_ids = list(dict.fromkeys(c.id for r in results for c in r.checks))
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "score", "max_score", "raw_score", "late_days",
                         *check_ids])
        for result in results:
            by_id = {c.id: c.score for c in result.checks}
            writer.writerow([result.student, result.assignment, f"{result.score:g}",
                             f"{result.max_score:g}", f"{result.raw_score:g}", result.late_days,
                             *(f"{by_id[i]:g}" if i in by_id else "" for i in check_ids)])


@FORMATS.register(name="json")
def write_json(results: list[SubmissionResult], out: Path) -> None:
    """Every result in full, as a JSON list."""
    out.write_text(json.dumps([r.to_dict() for r in results], indent=2), encoding="utf-8")
