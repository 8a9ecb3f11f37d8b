"""The gradebook, in SQLite: every grading ever recorded, and the instructor's overrides,
adjustments and extensions on top of them.

Each result is appended in its own transaction as soon as it exists, in WAL mode, so a crash
or SIGKILL never loses a recorded grade and a rerun can skip what is already graded. Nothing
is overwritten: a regrade adds a row (``grader history`` lists them), the newest row of a
(student, assignment) is what counts, and the *effective* grade (:mod:`grader.store.overrides`)
is that row with the active overrides and extensions applied. Overrides and extensions are
append-only too: a change or a ``--clear`` is a new row, so their audit trail is the table.
The class is made of parts by concept: the results here, the staff's changes
(:mod:`grader.store.change_log`) and the similarity pairs (:mod:`grader.store.similarity_log`).

The schema uses plain SQL types and explicit ids, so a server database could replace the file.
A version-1 file (one row per submission and rubric, replaced on regrade) is migrated in place
the first time it is opened, keeping its rows in their order.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from grader.errors import GraderError
from grader.store.change_log import ChangeLog
from grader.store.similarity_log import SimilarityLog
from grader.results import SubmissionResult, decode_arrays, encode_arrays

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    student      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    assignment   TEXT NOT NULL,
    rubric_hash  TEXT NOT NULL,
    score        REAL NOT NULL,
    max_score    REAL NOT NULL,
    graded_at    TEXT NOT NULL,
    result_json  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_by_submission ON results (student, content_hash, rubric_hash);
CREATE INDEX IF NOT EXISTS results_by_student ON results (student, assignment);
CREATE TABLE IF NOT EXISTS artifacts (
    result_id    INTEGER NOT NULL REFERENCES results (id),
    check_id     TEXT NOT NULL,
    arrays       BLOB NOT NULL,
    PRIMARY KEY (result_id, check_id)
);
CREATE TABLE IF NOT EXISTS call_outcomes (  -- what the student's code returned, to re-score
    content_hash TEXT NOT NULL,
    request_key  TEXT NOT NULL,  -- SHA-256 of the request (grader.sandbox.memo.request_key)
    outcome      TEXT NOT NULL,  -- grader.sandbox.memo.encode_outcome
    PRIMARY KEY (content_hash, request_key)
);
CREATE TABLE IF NOT EXISTS overrides (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    student      TEXT NOT NULL,
    assignment   TEXT NOT NULL,
    check_id     TEXT NOT NULL,  -- '' for an adjustment of the whole submission
    score        REAL,           -- NULL: the earlier override of this check is cleared
    out_of       REAL NOT NULL,  -- points an adjustment adds to the maximum
    reason       TEXT NOT NULL,
    made_by      TEXT NOT NULL,
    made_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS similarity (
    assignment   TEXT NOT NULL,
    student_a    TEXT NOT NULL,
    student_b    TEXT NOT NULL,
    share_a      REAL NOT NULL,
    share_b      REAL NOT NULL,
    page         TEXT NOT NULL,  -- the pair's side-by-side page, absolute path
    computed_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS extensions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    student      TEXT NOT NULL,
    assignment   TEXT NOT NULL,
    days         REAL NOT NULL,  -- 0 clears an earlier extension
    reason       TEXT NOT NULL,
    made_by      TEXT NOT NULL,
    made_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS manual_grades (  -- a person's grade of a manual item: a log
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    student      TEXT NOT NULL,
    assignment   TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    points       REAL,           -- NULL clears the item's grade
    level        TEXT NOT NULL,
    comment      TEXT NOT NULL,
    made_by      TEXT NOT NULL,
    made_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS manual_grades_by_item ON manual_grades (student, assignment, item_id);
CREATE TABLE IF NOT EXISTS publications (  -- assignments whose manual grades students see
    assignment   TEXT PRIMARY KEY,
    made_by      TEXT NOT NULL,
    made_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submission_files (  -- files manual items show, content-addressed
    content_hash TEXT NOT NULL,
    name         TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (content_hash, name)
);
"""
_V1_COLUMNS = "student, content_hash, assignment, rubric_hash, score, max_score, graded_at, result_json"


class Gradebook(ChangeLog, SimilarityLog):
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
            _migrate_v1(self._db)
            _execute_all(self._db, _SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise GraderError(f"{self.path}: not a usable gradebook ({exc})") from None

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # --- gradings -------------------------------------------------------------------------

    def record(self, result: SubmissionResult) -> None:
        """Append one grading and its figures' arrays, in one transaction."""
        with self._db:
            cursor = self._db.execute(
                f"INSERT INTO results ({_V1_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (result.student, result.content_hash, result.assignment, result.rubric_hash,
                 result.score, result.max_score, result.finished_at,
                 json.dumps(result.to_dict())),
            )
            self._db.executemany(
                "INSERT INTO artifacts VALUES (?, ?, ?)",
                [(cursor.lastrowid, check.id, base64.b64decode(encode_arrays(check.artifacts)))
                 for check in result.checks if check.artifacts])
            self._db.executemany(  # content-addressed: the same request on the same code
                "INSERT OR IGNORE INTO call_outcomes VALUES (?, ?, ?)",
                [(result.content_hash, key, text) for key, text in result.calls.items()])
            self._db.executemany(
                "INSERT OR IGNORE INTO submission_files VALUES (?, ?, ?)",
                [(result.content_hash, name, blob) for name, blob in result.files.items()])

    def stored_calls(self, content_hash: str) -> dict[str, str]:
        """``request key -> encoded outcome`` of every call stored for this submission."""
        return read_stored_calls(self.path, content_hash)

    def artifacts(self, result: SubmissionResult) -> dict[str, dict[str, np.ndarray]]:
        """``check id -> arrays`` recorded with the newest grading of ``result``'s submission
        under its rubric (for the report's figures)."""
        rows = self._db.execute(
            "SELECT check_id, arrays FROM artifacts WHERE result_id = (SELECT MAX(id) FROM "
            "results WHERE student=? AND content_hash=? AND rubric_hash=?)",
            (result.student, result.content_hash, result.rubric_hash))
        return {check_id: decode_arrays(blob) for check_id, blob in rows}

    def find(self, student: str, content_hash: str, rubric_hash: str) -> SubmissionResult | None:
        """The newest result of this submission under this rubric, to reuse; never one the
        grader failed to produce (that submission is graded again)."""
        row = self._db.execute(
            "SELECT result_json FROM results WHERE student=? AND content_hash=? AND "
            "rubric_hash=? ORDER BY id DESC LIMIT 1", (student, content_hash, rubric_hash)).fetchone()
        result = SubmissionResult.from_dict(json.loads(row[0])) if row else None
        return None if result is None or result.grader_failure else result

    def latest(self, assignment: str | None = None) -> list[SubmissionResult]:
        """The most recently recorded result of each (student, assignment), sorted by student.

        "Most recent" is the order in which this gradebook recorded them (the row id), not a
        time stored inside a result. These are the autograder's results: see :meth:`effective`.
        """
        query = ("SELECT id, result_json FROM results WHERE id IN (SELECT MAX(id) FROM results "
                 "GROUP BY student, assignment)")
        params: tuple = ()
        if assignment:
            query += " AND assignment = ?"
            params = (assignment,)
        rows = self._db.execute(query + " ORDER BY student, assignment", params).fetchall()
        return [_parsed(row_id, text) for row_id, text in rows]

    def effective(self, assignment: str | None = None, staff: bool = False) -> list[SubmissionResult]:
        """Each (student, assignment)'s grade as it counts: the newest result with its manual
        items' grades, the active overrides, adjustments and extensions applied (what reports
        and exports show). Manual grades count once the assignment is published, or for
        ``staff`` (the course staff's own pages)."""
        results = self.latest(assignment)
        changes = self._changes(assignment)  # every change of the class in four queries
        return [changes.applied(result, staff) for result in results]

    def latest_of(self, student: str, assignment: str) -> SubmissionResult | None:
        """:meth:`latest` for one student (``None`` if the gradebook has no result)."""
        row = self._db.execute(
            "SELECT result_json FROM results WHERE student = ? AND assignment = ? "
            "ORDER BY id DESC LIMIT 1", (student, assignment)).fetchone()
        return SubmissionResult.from_dict(json.loads(row[0])) if row else None

    def effective_of(self, student: str, assignment: str,
                     staff: bool = False) -> SubmissionResult | None:
        """:meth:`effective` for one student (``None`` if the gradebook has no result)."""
        result = self.latest_of(student, assignment)
        return self._applied(result, staff) if result is not None else None

    def _applied(self, result: SubmissionResult, staff: bool = False) -> SubmissionResult:
        return self._changes(result.assignment, result.student).applied(result, staff)


    def history(self, student: str, assignment: str | None = None) -> list[tuple[int, SubmissionResult]]:
        """Every grading of ``student`` (of ``assignment``), oldest first, with its row id."""
        query, params = "SELECT id, result_json FROM results WHERE student = ?", [student]
        if assignment:
            query += " AND assignment = ?"
            params.append(assignment)
        rows = self._db.execute(query + " ORDER BY id", params).fetchall()
        return [(row_id, SubmissionResult.from_dict(json.loads(text))) for row_id, text in rows]


    def files(self, content_hash: str) -> dict[str, bytes]:
        """The files of a submission that its manual items show (path -> bytes)."""
        rows = self._db.execute("SELECT name, data FROM submission_files WHERE content_hash = ? "
                                "ORDER BY name", (content_hash,))
        return {name: bytes(data) for name, data in rows}


    def students(self, assignment: str | None = None) -> set[str]:
        query = "SELECT DISTINCT student FROM results"
        params: tuple[str, ...] = ()
        if assignment:
            query, params = query + " WHERE assignment = ?", (assignment,)
        return {s for (s,) in self._db.execute(query, params)}

    def assignments_of(self, student: str) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT assignment FROM results WHERE student = ? "
                                "ORDER BY assignment", (student,))
        return [a for (a,) in rows]


# A cache of parsed results, (row id, hash of its JSON) -> result: a recorded row never changes
# and results are frozen, so a web server that shows a class again parses nothing again.
_PARSED: dict[tuple[int, int], SubmissionResult] = {}
_PARSED_MAX = 20_000


def _parsed(row_id: int, text: str) -> SubmissionResult:
    key = (row_id, hash(text))
    found = _PARSED.get(key)
    if found is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        found = _PARSED[key] = SubmissionResult.from_dict(json.loads(text))
    return found


def read_stored_calls(path: Path, content_hash: str) -> dict[str, str]:
    """:meth:`Gradebook.stored_calls`, read-only (a grading worker reads while the batch writes)."""
    with sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=30) as db:
        rows = db.execute("SELECT request_key, outcome FROM call_outcomes WHERE content_hash = ?",
                          (content_hash,)).fetchall()
    return dict(rows)


def _execute_all(db: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` (unlike ``executescript``, inside the open transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _migrate_v1(db: sqlite3.Connection) -> None:
    """Rebuild a version-1 gradebook (``results`` keyed by submission and rubric, no ``id``)
    as version 2 in one transaction, keeping every row in its recorded order and every figure."""
    columns = [row[1] for row in db.execute("PRAGMA table_info(results)")]
    if not columns or "id" in columns:
        return
    # explicit BEGIN: the renames and copies commit together or not at all
    previous, db.isolation_level = db.isolation_level, None
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("ALTER TABLE results RENAME TO results_v1")
        db.execute("ALTER TABLE artifacts RENAME TO artifacts_v1")
        _execute_all(db, _SCHEMA)
        db.execute(f"INSERT INTO results ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM results_v1 "
                   "ORDER BY rowid")
        db.execute("INSERT INTO artifacts SELECT r.id, a.check_id, a.arrays FROM artifacts_v1 a "
                   "JOIN results r USING (student, content_hash, rubric_hash)")
        db.execute("DROP TABLE artifacts_v1")
        db.execute("DROP TABLE results_v1")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    finally:
        db.isolation_level = previous
