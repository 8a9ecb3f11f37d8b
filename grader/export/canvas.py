"""Canvas gradebook import CSV.

Canvas imports a CSV shaped like its own gradebook export: the columns
``Student, ID, SIS User ID, SIS Login ID, Section`` followed by one column
per assignment, and a second row ``Points Possible``. Canvas matches rows on
``ID``, ``SIS User ID`` or ``SIS Login ID``; the harness knows students by
their submission name, which it writes as the SIS Login ID (name submissions
by login, as Canvas's bulk download does). Unknown columns are left empty.
"""

from __future__ import annotations

import csv
from pathlib import Path

from grader.export import FORMATS
from grader.results import SubmissionResult

FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


@FORMATS.register(name="canvas")
def write(results: list[SubmissionResult], out: Path) -> None:
    """One column per assignment present in ``results`` (title = assignment name)."""
    assignments = list(dict.fromkeys(r.assignment for r in results))
    students = list(dict.fromkeys(r.student for r in results))
    scores = {(r.student, r.assignment): r.score for r in results}
    possible = {r.assignment: r.max_score for r in results}
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIXED + assignments)
        writer.writerow(["Points Possible", "", "", "", ""] + [f"{possible[a]:g}" for a in assignments])
        for student in students:
            cells = [scores.get((student, a)) for a in assignments]
            writer.writerow([student, "", "", student, ""]
                            + ["" if s is None else f"{s:g}" for s in cells])
