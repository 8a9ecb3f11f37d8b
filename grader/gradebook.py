"""The gradebook: one row per (student, submission content hash, rubric hash), in SQLite.

Each result is written in its own transaction as soon as it exists, in WAL
mode, so a crash or SIGKILL never loses a recorded grade and a rerun can skip
what is already graded.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from grader.errors import GraderError
from grader.results import SubmissionResult, decode_arrays, encode_arrays

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
CREATE TABLE IF NOT EXISTS artifacts (
    student      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    rubric_hash  TEXT NOT NULL,
    check_id     TEXT NOT NULL,
    arrays       BLOB NOT NULL,
    PRIMARY KEY (student, content_hash, rubric_hash, check_id)
);
"""


class Gradebook:
    """A SQLite gradebook file; use as a context manager."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():  # grades are private: the grader's user alone
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
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
        """Insert or replace one result and its figures' arrays, in one transaction."""
        key = (result.student, result.content_hash, result.rubric_hash)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (result.student, result.content_hash, result.assignment, result.rubric_hash,
                 result.score, result.max_score, result.finished_at,
                 json.dumps(result.to_dict())),
            )
            self._db.execute("DELETE FROM artifacts WHERE student=? AND content_hash=? "
                             "AND rubric_hash=?", key)
            self._db.executemany(
                "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?)",
                [(*key, check.id, base64.b64decode(encode_arrays(check.artifacts)))
                 for check in result.checks if check.artifacts])

    def artifacts(self, result: SubmissionResult) -> dict[str, dict[str, np.ndarray]]:
        """``check id -> arrays`` recorded with ``result`` (for the report's figures)."""
        rows = self._db.execute(
            "SELECT check_id, arrays FROM artifacts WHERE student=? AND content_hash=? "
            "AND rubric_hash=?", (result.student, result.content_hash, result.rubric_hash))
        return {check_id: decode_arrays(blob) for check_id, blob in rows}

    def find(self, student: str, content_hash: str, rubric_hash: str) -> SubmissionResult | None:
        """The recorded result of this submission under this rubric, to reuse; never one the
        grader failed to produce (that submission is graded again)."""
        row = self._db.execute(
            "SELECT result_json FROM results WHERE student=? AND content_hash=? AND rubric_hash=?",
            (student, content_hash, rubric_hash)).fetchone()
        result = SubmissionResult.from_dict(json.loads(row[0])) if row else None
        return None if result is None or result.grader_failure else result

    def latest(self, assignment: str | None = None) -> list[SubmissionResult]:
        """The most recently recorded result of each (student, assignment), sorted by student.

        "Most recent" is the order in which this gradebook recorded them (SQLite's rowid),
        not a time stored inside a result.
        """
        query = ("SELECT result_json FROM results r WHERE rowid = (SELECT MAX(rowid) "
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
