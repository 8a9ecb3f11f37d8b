"""After the deadline: every grading kept, overrides and adjustments that survive regrades,
extensions that recompute lateness from the submission time, and a version-1 gradebook
migrated without losing a row."""

from __future__ import annotations

from dataclasses import replace

import csv
import datetime as dt
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from grader.store import late
from grader.store.gradebook import Gradebook
from grader.store.extensions import Extension, read_extensions_csv
from grader.results import CheckResult, Status, SubmissionResult
from grader.rubric.load import LatePolicy

from conftest import run_grader

DUE = dt.datetime(2026, 10, 1, 23, 59, tzinfo=dt.timezone.utc)
POLICY = LatePolicy(due=DUE, penalty_per_day=0.1)


def _result(student: str, identity: float, content: str = "c1", late_days: int = 0,
            submitted: dt.datetime | None = None) -> SubmissionResult:
    checks = [
        CheckResult("identity", "identity kernel", "my_imfilter", Status.PASSED if identity else
                    Status.FAILED, identity, 2.0, "ok" if identity else "max abs error 0.9",
                    artifacts={"output": np.ones((2, 2), dtype=np.float32) * identity}),
        CheckResult("hybrid", "hybrid image", "create_hybrid_image", Status.PASSED, 3.0, 3.0, "ok"),
    ]
    result = SubmissionResult(student, content, "proj1_filtering", "rubric-a", checks,
                              versions={"harness": "1.0"}, finished_at="2026-10-02T10:00:00",
                              isolation=["landlock-filesystem"], sandbox="subprocess")
    if submitted is not None:
        days, fraction = late.penalty(POLICY, submitted)
        result = replace(result, submitted_at=submitted.isoformat(), late_days=days,
                         late_penalty=fraction, late_policy=POLICY.model_dump(mode="json"))
    return result


@pytest.fixture
def book_path(tmp_path) -> Path:
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as book:
        book.record(_result("ann", 0.0))
        book.record(_result("bob", 2.0, submitted=DUE + dt.timedelta(days=1, hours=3)))
    return path


def _grader(book_path: Path, *args: str):
    return run_grader(*args, "--db", str(book_path), timeout=120)


def _effective(book_path: Path, student: str) -> SubmissionResult:
    with Gradebook(book_path) as book:
        found = book.effective_of(student, "proj1_filtering")
        assert found == next(r for r in book.effective() if r.student == student)
        return found


def _table_rows(book_path: Path, table: str) -> int:
    with sqlite3.connect(book_path) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# --- history ------------------------------------------------------------------------------

def test_a_regrade_adds_a_row_and_the_newest_counts(tmp_path):
    with Gradebook(tmp_path / "g.sqlite") as book:
        book.record(_result("ann", 0.0))
        book.record(_result("ann", 2.0))  # the same submission and rubric, graded again
        history = book.history("ann")
        assert [r.score for _, r in history] == [3.0, 5.0]
        assert history[0][0] < history[1][0]
        assert book.find("ann", "c1", "rubric-a").score == 5.0
        assert [r.score for r in book.latest()] == [5.0]
        np.testing.assert_array_equal(book.artifacts(book.latest()[0])["identity"]["output"],
                                      np.full((2, 2), 2.0))


def test_history_lists_every_grading_and_the_effective_grade(book_path):
    with Gradebook(book_path) as book:
        book.record(_result("ann", 2.0, content="c2"))
    proc = _grader(book_path, "history", "ann")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("proj1_filtering") >= 1
    assert "3/5" in proc.stdout and "5/5" in proc.stdout and "(latest)" in proc.stdout
    assert "effective grade 5/5" in proc.stdout


def test_a_version_1_gradebook_is_migrated_with_its_rows_and_figures(tmp_path):
    path = tmp_path / "old.sqlite"
    old = [_result("ann", 0.0), _result("bob", 2.0), _result("ann", 2.0, content="c2")]
    with sqlite3.connect(path) as db:  # the schema of round 1, written as it wrote it
        db.executescript("""
            CREATE TABLE results (student TEXT NOT NULL, content_hash TEXT NOT NULL,
                assignment TEXT NOT NULL, rubric_hash TEXT NOT NULL, score REAL NOT NULL,
                max_score REAL NOT NULL, graded_at TEXT NOT NULL, result_json TEXT NOT NULL,
                PRIMARY KEY (student, content_hash, rubric_hash));
            CREATE TABLE artifacts (student TEXT NOT NULL, content_hash TEXT NOT NULL,
                rubric_hash TEXT NOT NULL, check_id TEXT NOT NULL, arrays BLOB NOT NULL,
                PRIMARY KEY (student, content_hash, rubric_hash, check_id));""")
        for result in old:
            db.execute("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (result.student, result.content_hash, result.assignment,
                        result.rubric_hash, result.score, result.max_score,
                        result.finished_at, json.dumps(result.to_dict())))
            db.execute("INSERT INTO artifacts VALUES (?, ?, ?, ?, ?)",
                       (result.student, result.content_hash, result.rubric_hash, "identity",
                        b"not decoded here" if result.student == "bob" else _npz(result)))
    with Gradebook(path) as book:
        assert [(r.student, r.content_hash) for _, r in book.history("ann")] == [("ann", "c1"),
                                                                                ("ann", "c2")]
        assert [(r.student, r.score) for r in book.latest()] == [("ann", 5.0), ("bob", 5.0)]
        ann = book.latest()[0]
        np.testing.assert_array_equal(book.artifacts(ann)["identity"]["output"], np.full((2, 2), 2.0))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                } >= {"results", "artifacts", "overrides", "extensions"}
        assert db.execute("SELECT COUNT(*) FROM artifacts").fetchone()[0] == 3
    with Gradebook(path) as book:  # opening it again changes nothing
        assert len(book.history("ann")) == 2


def _npz(result: SubmissionResult) -> bytes:
    import base64

    from grader.results import encode_arrays

    return base64.b64decode(encode_arrays(result.checks[0].artifacts))


# --- overrides and adjustments --------------------------------------------------------------

@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_an_override_survives_a_regrade_and_shows_everywhere(book_path, tmp_path):
    proc = _grader(book_path, "override", "ann", "identity", "--score", "1.5",
                   "--reason", "kernel flip only; TA review", "--by", "ta-lee")
    assert proc.returncode == 0, proc.stderr
    assert "effective grade 4.5/5" in proc.stdout
    with Gradebook(book_path) as book:
        book.record(_result("ann", 0.0, content="c3"))  # the autograder runs again
    ann = _effective(book_path, "ann")
    check = next(c for c in ann.checks if c.id == "identity")
    assert ann.score == 4.5 and check.score == 1.5
    assert check.message.startswith("overridden by ta-lee on ")
    assert "kernel flip only; TA review" in check.message and "autograder: 0/2, failed" in check.message
    assert check.override["autograded_score"] == 0.0

    exported = tmp_path / "grades.csv"
    assert _grader(book_path, "export", "--format", "csv", "--out", str(exported)).returncode == 0
    rows = {row["student"]: row for row in csv.DictReader(exported.open())}
    assert rows["ann"]["score"] == "4.5" and rows["ann"]["identity"] == "1.5"
    reports = tmp_path / "reports"
    assert _grader(book_path, "report", "--out", str(reports)).returncode == 0
    page = next(reports.glob("*ann*.html")).read_text()
    assert "badge overridden" in page and "ta-lee" in page
    assert "identity overridden" in (reports / "index.html").read_text()
    markdown = next(reports.glob("*ann*.md")).read_text()
    assert "(overridden)" in markdown


def test_clearing_an_override_restores_the_autograders_points(book_path):
    assert _grader(book_path, "override", "ann", "identity", "--score", "2",
                   "--reason", "regrade request").returncode == 0
    proc = _grader(book_path, "override", "ann", "identity", "--clear")
    assert proc.returncode == 0, proc.stderr
    assert _effective(book_path, "ann").score == 3.0
    with Gradebook(book_path) as book:  # the log keeps both
        assert [o.score for o in book.override_log("ann", "proj1_filtering")] == [2.0, None]


def test_an_adjustment_adds_points_and_a_maximum(book_path):
    proc = _grader(book_path, "override", "ann", "--score", "7", "--out-of", "10",
                   "--reason", "written report")
    assert proc.returncode == 0, proc.stderr
    ann = _effective(book_path, "ann")
    assert (ann.score, ann.max_score) == (10.0, 15.0)
    adjustment = ann.checks[-1]
    assert adjustment.id == "adjustment" and adjustment.message.startswith("adjusted by ")


@pytest.mark.parametrize("args, sentence", [
    (["override", "zed", "identity", "--score", "1", "--reason", "x"], "no results for student 'zed'"),
    (["override", "ann", "nosuch", "--score", "1", "--reason", "x"], "has no check 'nosuch'"),
    (["override", "ann", "identity", "--score", "3", "--reason", "x"], "outside 0..2"),
    (["override", "ann", "identity", "--score", "1"], "give a --reason"),
    (["override", "ann", "identity", "--clear"], "no active override of identity"),
    (["override", "ann", "identity", "--reason", "x"], "give the new points with --score"),
    (["extend", "ann", "--days", "2", "--reason", "x", "--assignment", "proj9"],
     "no results for proj9"),
])
def test_a_wrong_change_is_one_sentence_and_changes_nothing(book_path, args, sentence):
    before = (_table_rows(book_path, "overrides"), _table_rows(book_path, "extensions"))
    proc = _grader(book_path, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert sentence in proc.stderr and "Traceback" not in proc.stderr
    assert (_table_rows(book_path, "overrides"), _table_rows(book_path, "extensions")) == before


# --- extensions -----------------------------------------------------------------------------

@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_an_extension_recomputes_lateness_from_the_submission_time(book_path):
    bob = _effective(book_path, "bob")
    assert (bob.late_days, bob.score) == (2, 4.0)  # 1 day 3 h late: two started days, −20 %
    proc = _grader(book_path, "extend", "bob", "--days", "1", "--reason", "illness")
    assert proc.returncode == 0, proc.stderr
    bob = _effective(book_path, "bob")
    assert (bob.late_days, bob.score) == (1, 4.5)
    assert any("extension of 1 day(s)" in note and "illness" in note for note in bob.notes)
    assert _grader(book_path, "extend", "bob", "--days", "2", "--reason", "more").returncode == 0
    assert _effective(book_path, "bob").late_days == 0
    assert _grader(book_path, "extend", "bob", "--days", "0", "--reason", "revoked").returncode == 0
    assert _effective(book_path, "bob").late_days == 2


def test_grading_applies_the_recorded_extension(tmp_path):
    result = _result("cat", 2.0)
    rubric = type("R", (), {"late": POLICY})()
    extension = Extension("cat", "proj1_filtering", 3, "family", "prof", "2026-10-01T00:00:00")
    result = late.apply_policy(result, tmp_path, rubric, {"cat": DUE + dt.timedelta(days=2)},
                               {"cat": extension})
    assert result.late_days == 0 and result.late_penalty == 0
    assert result.late_policy["penalty_per_day"] == 0.1
    assert "on time with an extension of 3 day(s) granted by prof" in result.notes[-1]


def test_an_extensions_csv_is_read_or_refused_with_its_line(tmp_path):
    good = tmp_path / "ext.csv"
    good.write_text("student,days,reason\nann,2,DRC letter\nbob,0.5,\n")
    found = read_extensions_csv(good, "proj1_filtering")
    assert [(e.student, e.days, e.reason) for e in found] == [
        ("ann", 2.0, "DRC letter"), ("bob", 0.5, "from ext.csv")]
    bad = tmp_path / "bad.csv"
    bad.write_text("student,days\nann,two\n")
    with pytest.raises(Exception, match=r"bad.csv, line 2: expected columns 'student,days"):
        read_extensions_csv(bad, "proj1_filtering")
