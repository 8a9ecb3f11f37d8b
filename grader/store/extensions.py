"""Extensions: extra days an instructor grants one student on one assignment.

An extension is kept by (student, assignment), not by submission, so it survives every
regrade; :mod:`grader.store.late` prices the lateness it leaves, :mod:`grader.store.overrides` applies it
to a stored result, and the gradebook keeps it with who granted it, when and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from grader.store.csv_input import read_rows
from grader.stamps import now, who


@dataclass(frozen=True)
class Extension:
    """Extra days for one student on one assignment (0 clears an earlier extension)."""

    student: str
    assignment: str
    days: float
    reason: str
    by: str
    at: str


def read_extensions_csv(path: Path, assignment: str) -> list[Extension]:
    """Extensions from a CSV with columns ``student,days`` and optionally ``reason``."""
    by, at = who(None), now()

    def extension(row: dict[str, str]) -> Extension:
        days = float(row["days"])
        if days < 0 or not math.isfinite(days):
            raise ValueError
        reason = (row.get("reason") or "").strip() or f"from {path.name}"
        return Extension(row["student"].strip(), assignment, days, reason, by, at)

    return read_rows(path, "--extensions", extension,
                     "columns 'student,days[,reason]' with a number of days ≥ 0")
