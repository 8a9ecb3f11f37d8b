"""Who grades what by hand, and whether graders see who they grade.

An instructor splits a manual item's submissions among the TAs: at random (balanced, seeded)
or by section from the course roster, or gives one submission to one TA by hand. A conflict
(a TA who must not grade a student: a friend, a housemate) is never broken, whichever way.
An assignment can be graded anonymously: TAs then see a pseudonym instead of a student's id,
stable for the assignment and keyed by a secret of its own, so knowing the roster does not
reveal who is who.

The tables live in the gradebook's file, beside the grades (like :mod:`grader.store.staff`).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets

from grader.errors import GraderError
from grader.store.database import Tables
from grader.stamps import now

# the course's students and their sections; a student on it may also sign in (store/staff.py)
ROSTER_SCHEMA = """
CREATE TABLE IF NOT EXISTS roster (student TEXT PRIMARY KEY, section TEXT NOT NULL);
"""
_SCHEMA = ROSTER_SCHEMA + """
CREATE TABLE IF NOT EXISTS conflicts (grader TEXT NOT NULL, student TEXT NOT NULL,
                                      PRIMARY KEY (grader, student));
CREATE TABLE IF NOT EXISTS queues (assignment TEXT NOT NULL, item_id TEXT NOT NULL,
                                   student TEXT NOT NULL, grader TEXT NOT NULL,
                                   made_by TEXT NOT NULL, made_at TEXT NOT NULL,
                                   PRIMARY KEY (assignment, item_id, student));
CREATE TABLE IF NOT EXISTS anonymity (assignment TEXT PRIMARY KEY, secret TEXT NOT NULL,
                                      made_by TEXT NOT NULL, made_at TEXT NOT NULL);
"""


class Queues(Tables):
    """The queue, roster, conflict and anonymity tables of the gradebook at ``path``."""

    SCHEMA = _SCHEMA

    # --- roster and conflicts -------------------------------------------------------------

    def set_sections(self, sections: dict[str, str]) -> None:
        """Record each student's section (the roster), replacing earlier entries of theirs."""
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO roster VALUES (?, ?)", sections.items())

    def sections(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT student, section FROM roster"))

    def add_conflict(self, grader: str, student: str) -> None:
        """``grader`` never grades ``student``; a queue that gave them the student already
        moves the student to another grader at the next split (and refuses it by hand)."""
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO conflicts VALUES (?, ?)", (grader, student))

    def conflicts(self) -> set[tuple[str, str]]:
        return set(self._db.execute("SELECT grader, student FROM conflicts"))

    # --- queues ---------------------------------------------------------------------------

    def split(self, assignment: str, item_id: str, students: list[str], graders: list[str],
              by: str, how: str = "random", seed: int = 0,
              sections_of: dict[str, list[str]] | None = None) -> dict[str, str]:
        """Give each of ``students`` to one of ``graders`` for ``item_id``: ``random`` (each
        grader within one of the same number) or ``section`` (``sections_of``: grader → the
        sections they take; a student of no listed section goes to the least loaded). A
        conflict always moves a student to the least loaded grader allowed. Replaces the
        item's earlier split; returns student → grader."""
        if not graders:
            raise GraderError("choose at least one grader to split among")
        order = sorted(students)
        random.Random(f"{seed}:{assignment}:{item_id}").shuffle(order)
        roster, banned = self.sections(), self.conflicts()
        by_section = {s: g for g, listed in (sections_of or {}).items() for s in listed}
        load = {g: 0 for g in graders}
        given: dict[str, str] = {}
        for student in order:
            allowed = [g for g in graders if (g, student) not in banned]
            if not allowed:
                raise GraderError(f"every grader chosen has a conflict with {student}: add one "
                                  "who does not")
            wanted = by_section.get(roster.get(student, "")) if how == "section" else None
            grader = wanted if wanted in allowed else min(allowed, key=lambda g: (load[g], g))
            given[student] = grader
            load[grader] += 1
        at = now()
        with self._db:
            self._db.execute("DELETE FROM queues WHERE assignment = ? AND item_id = ?",
                             (assignment, item_id))
            self._db.executemany("INSERT INTO queues VALUES (?, ?, ?, ?, ?, ?)",
                                 [(assignment, item_id, s, g, by, at) for s, g in given.items()])
        return given

    def give(self, assignment: str, item_id: str, student: str, grader: str, by: str) -> None:
        """Give one submission to ``grader`` by hand (refused on a conflict)."""
        if (grader, student) in self.conflicts():
            raise GraderError(f"{grader} has a conflict with {student}: give it to someone else")
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO queues VALUES (?, ?, ?, ?, ?, ?)",
                             (assignment, item_id, student, grader, by, now()))

    def graders(self, assignment: str, item_id: str) -> dict[str, str]:
        """Student → the grader given their submission of ``item_id`` ({} before any split)."""
        return dict(self._db.execute("SELECT student, grader FROM queues WHERE assignment = ? "
                                     "AND item_id = ?", (assignment, item_id)))

    # --- anonymity ------------------------------------------------------------------------

    def set_anonymous(self, assignment: str, anonymous: bool, by: str) -> None:
        """Turn anonymous grading of ``assignment`` on (a new secret: new pseudonyms) or off."""
        with self._db:
            if anonymous:
                self._db.execute("INSERT OR IGNORE INTO anonymity VALUES (?, ?, ?, ?)",
                                 (assignment, secrets.token_hex(16), by, now()))
            else:
                self._db.execute("DELETE FROM anonymity WHERE assignment = ?", (assignment,))

    def anonymous(self, assignment: str) -> bool:
        return self._secret(assignment) is not None

    def pseudonym(self, assignment: str, student: str) -> str:
        """``student``'s pseudonym on ``assignment`` (their id when it is not anonymous)."""
        secret = self._secret(assignment)
        if secret is None:
            return student
        digest = hmac.new(secret.encode(), student.encode(), hashlib.sha256).hexdigest()
        return f"anon-{digest[:10]}"

    def _secret(self, assignment: str) -> str | None:
        row = self._db.execute("SELECT secret FROM anonymity WHERE assignment = ?",
                               (assignment,)).fetchone()
        return row[0] if row else None
