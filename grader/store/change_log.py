"""The staff's changes to grades: overrides and adjustments, extensions, manual grades and
publishing, each an append-only log in the gradebook, and how a result counts with them
(:class:`_Changes`, read at once for a whole class).

:class:`ChangeLog` is a part of :class:`~grader.store.gradebook.Gradebook`: it works on the
gradebook's connection.
"""

from __future__ import annotations

import sqlite3

from grader.errors import GraderError
from grader.results import SubmissionResult
from grader.store import manual, overrides
from grader.store.extensions import Extension
from grader.store.manual import ManualGrade
from grader.store.overrides import Override


class ChangeLog:
    """The change tables of a gradebook (see the module's docstring)."""

    _db: sqlite3.Connection

    def _changes(self, assignment: str | None, student: str | None = None) -> _Changes:
        """The staff's changes to ``assignment`` (every one's when ``None``) of ``student``
        (everyone's when ``None``), read at once."""
        where, params = _where(assignment=assignment, student=student)
        overrides_log = self._db.execute(
            "SELECT student, assignment, check_id, score, out_of, reason, made_by, made_at "
            f"FROM overrides {where} ORDER BY id", params).fetchall()
        extensions = self._db.execute(
            "SELECT student, assignment, days, reason, made_by, made_at FROM extensions "
            f"{where} ORDER BY id", params).fetchall()
        grades = self._db.execute(
            "SELECT student, assignment, item_id, points, level, comment, made_by, made_at "
            f"FROM manual_grades {where} ORDER BY id", params).fetchall()
        published = {row[0] for row in self._db.execute("SELECT assignment FROM publications")}
        return _Changes([Override(*row) for row in overrides_log],
                        [Extension(*row) for row in extensions],
                        [ManualGrade(*row) for row in grades], published)

    def add_override(self, override: Override) -> None:
        """Append an override, an adjustment (``check_id == ""``) or a clearing (score None)."""
        with self._db:
            self._db.execute(
                "INSERT INTO overrides (student, assignment, check_id, score, out_of, reason, "
                "made_by, made_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (override.student, override.assignment, override.check_id, override.score,
                 override.out_of, override.reason, override.by, override.at))

    def override_log(self, student: str, assignment: str) -> list[Override]:
        """Every override of ``student``'s ``assignment`` ever made, oldest first."""
        rows = self._db.execute(
            "SELECT student, assignment, check_id, score, out_of, reason, made_by, made_at "
            "FROM overrides WHERE student = ? AND assignment = ? ORDER BY id", (student, assignment))
        return [Override(*row) for row in rows]

    def overrides(self, student: str, assignment: str) -> list[Override]:
        """The active overrides: the newest of each check (and of the adjustment), uncleared."""
        return self._changes(assignment, student).standing(student, assignment)

    def add_extension(self, extension: Extension) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO extensions (student, assignment, days, reason, made_by, made_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (extension.student, extension.assignment, extension.days, extension.reason,
                 extension.by, extension.at))

    def extension(self, student: str, assignment: str) -> Extension | None:
        """The newest extension of ``student``'s ``assignment``, unless it was cleared."""
        return self._changes(assignment, student).extension(student, assignment)

    def extensions(self, assignment: str) -> dict[str, Extension]:
        """``student -> active extension`` for ``assignment`` (to apply at grading)."""
        return self._changes(assignment).extensions()

    def add_manual_grade(self, grade: ManualGrade, seen: int | None) -> int:
        """Record ``grade`` unless someone graded the item since the grader saw it (``seen``:
        the number :meth:`manual_versions` gave then); return the new grade's number."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")  # read and write as one, against a second grader
            row = self._db.execute(
                "SELECT id, made_by, made_at FROM manual_grades WHERE student = ? AND "
                "assignment = ? AND item_id = ? ORDER BY id DESC LIMIT 1",
                (grade.student, grade.assignment, grade.item_id)).fetchone()
            if row is not None and row[0] != seen:
                raise GraderError(f"{row[1]} graded {grade.item_id} of {grade.student} at "
                                  f"{row[2][:16]}, after you opened it: reload to see their grade")
            cursor = self._db.execute(
                "INSERT INTO manual_grades (student, assignment, item_id, points, level, "
                "comment, made_by, made_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (grade.student, grade.assignment, grade.item_id, grade.points, grade.level,
                 grade.comment, grade.by, grade.at))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def manual_grades(self, student: str, assignment: str) -> dict[str, ManualGrade]:
        """The standing grade of each manual item of ``student``'s ``assignment``."""
        return self._changes(assignment, student).grades(student, assignment)

    def graded_items(self, assignment: str) -> dict[str, set[str]]:
        """``student -> the manual items with a standing grade`` for the whole class, read at
        once (a queue's progress, the next submission to grade)."""
        return self._changes(assignment).graded_items()

    def manual_versions(self, student: str, assignment: str) -> dict[str, int]:
        """The number of each item's newest grade (what a grading page saw, for
        :meth:`add_manual_grade`)."""
        return {g.item_id: number for number, g in self._manual_log(student, assignment)}

    def _manual_log(self, student: str, assignment: str) -> list[tuple[int, ManualGrade]]:
        rows = self._db.execute(
            "SELECT id, student, assignment, item_id, points, level, comment, made_by, made_at "
            "FROM manual_grades WHERE student = ? AND assignment = ? ORDER BY id",
            (student, assignment))
        return [(row[0], ManualGrade(*row[1:])) for row in rows]

    def publish(self, assignment: str, by: str, at: str) -> None:
        """Let students and exports see ``assignment``'s manual grades from now on."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO publications VALUES (?, ?, ?)",
                             (assignment, by, at))

    def published(self, assignment: str) -> tuple[str, str] | None:
        """Who published ``assignment`` and when, or ``None`` while its manual grades are held."""
        row = self._db.execute("SELECT made_by, made_at FROM publications WHERE assignment = ?",
                               (assignment,)).fetchone()
        return (row[0], row[1]) if row else None


def _where(**equal: str | None) -> tuple[str, list[str]]:
    """``WHERE a = ? AND b = ?`` for the given values that are not ``None``, and the values."""
    given = {column: value for column, value in equal.items() if value is not None}
    clause = " AND ".join(f"{column} = ?" for column in given)
    return (f"WHERE {clause}" if clause else ""), list(given.values())


class _Changes:
    """The staff's changes to a class, read at once, applied to each of its results."""

    def __init__(self, overrides_log: list[Override], extensions: list[Extension],
                 grades: list[ManualGrade], published: set[str]) -> None:
        self._overrides: dict[tuple[str, str], dict[str, Override]] = {}
        for override in overrides_log:  # the newest of each check counts
            self._overrides.setdefault((override.student, override.assignment),
                                       {})[override.check_id] = override
        self._extensions = {(e.student, e.assignment): e for e in extensions}
        self._grades: dict[tuple[str, str], dict[str, ManualGrade]] = {}
        for grade in grades:
            self._grades.setdefault((grade.student, grade.assignment), {})[grade.item_id] = grade
        self._published = published

    def standing(self, student: str, assignment: str) -> list[Override]:
        """The active overrides: the newest of each check (and of the adjustment), uncleared."""
        newest = self._overrides.get((student, assignment), {})
        return [o for o in newest.values() if o.score is not None]

    def extension(self, student: str, assignment: str) -> Extension | None:
        """The newest extension, unless it was cleared (0 days)."""
        found = self._extensions.get((student, assignment))
        return found if found is not None and found.days else None

    def extensions(self) -> dict[str, Extension]:
        """``student -> active extension`` of everyone read (one assignment's snapshot)."""
        return {student: e for (student, _), e in self._extensions.items() if e.days}

    def graded_items(self) -> dict[str, set[str]]:
        """``student -> the items with a standing grade`` (one assignment's snapshot)."""
        return {student: {item for item, g in newest.items() if g.points is not None}
                for (student, _), newest in self._grades.items()}

    def grades(self, student: str, assignment: str) -> dict[str, ManualGrade]:
        """The standing grade of each manual item (the newest, unless cleared)."""
        newest = self._grades.get((student, assignment), {})
        return {item: g for item, g in newest.items() if g.points is not None}

    def applied(self, result: SubmissionResult, staff: bool) -> SubmissionResult:
        student, assignment = result.student, result.assignment
        held = not staff and assignment not in self._published
        graded = manual.apply(result, self.grades(student, assignment), held)
        return overrides.apply(graded, self.standing(student, assignment),
                               self.extension(student, assignment))
