"""Batches as they run: how far each has come, for the staff application's live view, and a
cancel request the batch obeys.

``grader grade`` (from a terminal or started from the staff application) records its batch
here and advances it with every result; whoever watches reads it. A batch whose process
disappeared without finishing (killed) reads as ``stopped``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from grader.pids import alive
from grader.store.database import Tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, assignment TEXT NOT NULL, total INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0, short INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'running',
    cancel INTEGER NOT NULL DEFAULT 0, started_by TEXT NOT NULL, pid INTEGER NOT NULL,
    started REAL NOT NULL, updated REAL NOT NULL);
"""


@dataclass(frozen=True)
class Batch:
    """One batch: ``done`` of ``total`` submissions, ``short`` of them below full marks,
    ``errors`` the grader failed on; ``state`` running, done, cancelled, failed or stopped."""

    id: int
    assignment: str
    total: int
    done: int
    short: int
    errors: int
    state: str
    cancel: bool
    started_by: str
    started: float
    updated: float

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (``None`` before the first result or once over)."""
        if self.state != "running" or not self.done:
            return None
        return (self.updated - self.started) / self.done * (self.total - self.done)

    def as_json(self) -> dict:
        return {"id": self.id, "assignment": self.assignment, "total": self.total,
                "done": self.done, "short": self.short, "errors": self.errors,
                "state": self.state, "cancel": self.cancel,
                "eta_s": None if self.eta_s is None else round(self.eta_s, 1)}


class BatchLog(Tables):
    """The batch table of the gradebook at ``path``."""

    SCHEMA = _SCHEMA

    def start(self, assignment: str, total: int, by: str, pid: int) -> int:
        moment = time.time()
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO batches (assignment, total, started_by, pid, started, updated) "
                "VALUES (?, ?, ?, ?, ?, ?)", (assignment, total, by, pid, moment, moment))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def advance(self, batch: int, short: bool, error: bool) -> None:
        with self._db:
            self._db.execute("UPDATE batches SET done = done + 1, short = short + ?, "
                             "errors = errors + ?, updated = ? WHERE id = ?",
                             (int(short), int(error), time.time(), batch))

    def finish(self, batch: int, state: str) -> None:
        with self._db:
            self._db.execute("UPDATE batches SET state = ?, updated = ? WHERE id = ?",
                             (state, time.time(), batch))

    def request_cancel(self, batch: int) -> bool:
        """Ask a running batch to stop after the submissions it is grading; whether it runs."""
        with self._db:
            changed = self._db.execute("UPDATE batches SET cancel = 1 WHERE id = ? AND "
                                       "state = 'running'", (batch,)).rowcount
        return bool(changed)

    def cancel_requested(self, batch: int) -> bool:
        row = self._db.execute("SELECT cancel FROM batches WHERE id = ?", (batch,)).fetchone()
        return bool(row and row[0])

    def recent(self, count: int = 20) -> list[Batch]:
        """The newest ``count`` batches, newest first; a running one whose process is gone
        reads as ``stopped``."""
        rows = self._db.execute(
            "SELECT id, assignment, total, done, short, errors, state, cancel, started_by, "
            "started, updated, pid FROM batches ORDER BY id DESC LIMIT ?", (count,)).fetchall()
        found = []
        for (number, assignment, total, done, short, errors, state, cancel, by, started,
             updated, pid) in rows:
            if state == "running" and not alive(pid):
                state = "stopped"
            found.append(Batch(number, assignment, total, done, short, errors, state,
                               bool(cancel), by, started, updated))
        return found
