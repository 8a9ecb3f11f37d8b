"""The gradebook: one row per (student, submission content hash, rubric hash), in SQLite.

Each result is written in its own transaction as soon as it exists, in WAL
mode, so a crash or SIGKILL never loses a recorded grade and a rerun can skip
what is already graded.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from grader.errors import GraderError
from grader.results import SubmissionResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    student      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    assignment   TEXT NOT NULL,
    rubric_hash  TEXT NOT NULL,
    score        REAL NOT NULL,
    max_score    REAL NOT NULL,
    graded_at    TEXT NOT NULL,
    result_json  TEXT NOT NULL,
    PRIMARY KEY (student, content_hash, rubric_hash)
);
"""


class Gradebook:
    """A SQLite gradebook file; use as a context manager."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise GraderError(f"{self.path}: not a usable gradebook ({exc})") from None

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def record(self, result: SubmissionResult) -> None:
        """Insert or replace one result, in one transaction."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (result.student, result.content_hash, result.assignment, result.rubric_hash,
                 result.score, result.max_score, result.finished_at,
                 json.dumps(result.to_dict())),
            )

    def find(self, student: str, content_hash: str, rubric_hash: str) -> SubmissionResult | None:
        row = self._db.execute(
            "SELECT result_json FROM results WHERE student=? AND content_hash=? AND rubric_hash=?",
            (student, content_hash, rubric_hash)).fetchone()
        return SubmissionResult.from_dict(json.loads(row[0])) if row else None

    def latest(self, assignment: str | None = None) -> list[SubmissionResult]:
        """The most recently graded result of each (student, assignment), sorted by student."""
        query = ("SELECT result_json FROM results r WHERE graded_at = (SELECT MAX(graded_at) "
                 "FROM results s WHERE s.student = r.student AND s.assignment = r.assignment)")
        params: tuple = ()
        if assignment:
            query += " AND assignment = ?"
            params = (assignment,)
        rows = self._db.execute(query + " ORDER BY student, assignment", params).fetchall()
        seen, results = set(), []
        for (text,) in rows:
            result = SubmissionResult.from_dict(json.loads(text))
            if (result.student, result.assignment) not in seen:
                seen.add((result.student, result.assignment))
                results.append(result)
        return results
