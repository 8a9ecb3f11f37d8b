"""What students hand in on the course's server: kept once by content, queued fairly, graded once.

An upload is stored as received, under its SHA-256, in a folder beside the gradebook
(``<gradebook>.uploads/``); a row records who sent it, for which assignment, and when the
server received it — the platform time the late policy uses. A row moves through states::

    queued -> grading -> graded | failed
    queued -> replaced        (the same student's newer upload of the assignment arrived)

The queue is fair across students: the next upload graded is the waiting one whose student was
served least recently (round robin by student; among students never served, first come first
served), and a student has at most one upload waiting per assignment, so ten uploads from one
student delay another student by at most one grading slot. Everything is in SQLite: a server
killed with ``kill -9`` loses no upload, and what it was grading is queued again at the next
start (:meth:`Uploads.recover`).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.stamps import at
from grader.store.database import Tables

STATES = ("queued", "grading", "graded", "replaced", "failed")
MAX_ATTEMPTS = 3  # gradings of one upload the grader may lose (killed, crashed) before it gives up
RECENT_GRADINGS = 20  # the gradings an ETA averages

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL, assignment TEXT NOT NULL,
    sha256 TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,
    received_at TEXT NOT NULL, received_s REAL NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    started_s REAL, finished_s REAL, shown_score REAL, shown_max REAL,
    message TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS uploads_by_state ON uploads (state, received_s);
CREATE INDEX IF NOT EXISTS uploads_by_student ON uploads (student, assignment, received_s);
"""
# the waiting uploads in the order they will be graded: least recently served student first
_FAIR_ORDER = """
SELECT u.id FROM uploads u
LEFT JOIN (SELECT student, max(started_s) AS served_s FROM uploads
           WHERE started_s IS NOT NULL GROUP BY student) s USING (student)
WHERE u.state = 'queued'
ORDER BY coalesce(s.served_s, 0), u.received_s, u.id
"""


@dataclass(frozen=True)
class Upload:
    """One upload: ``received_at`` is the server's receive time (ISO 8601, UTC)."""

    id: int
    student: str
    assignment: str
    sha256: str
    name: str
    size: int
    received_at: str
    state: str
    attempts: int = 0
    shown_score: float | None = None  # the visible checks' points: all a student sees at once
    shown_max: float | None = None
    message: str = ""


@dataclass(frozen=True)
class Place:
    """Where a waiting upload stands: ``ahead`` uploads are graded before it; ``eta_s`` is
    when it should be done, from the recent gradings' mean time (``None``: nothing to go by)."""

    ahead: int
    eta_s: float | None


class Uploads(Tables):
    """The uploads of the gradebook at ``path`` and the folder that keeps their files.

    ``clock`` gives the time in seconds (tests move it).
    """

    SCHEMA = _SCHEMA

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        super().__init__(path)
        self.folder = Path(f"{path}.uploads")
        self._clock = clock

    # --- receiving ----------------------------------------------------------------------

    def receive(self, student: str, assignment: str, name: str, data: bytes,
                per_hour: int | None = None) -> Upload:
        """Keep ``data`` (the file ``name`` as the student sent it) and queue it, replacing the
        student's upload of ``assignment`` still waiting, if any.

        Raises
        ------
        GraderError
            When the student has already uploaded ``per_hour`` times in the last hour.
        """
        moment = self._clock()
        if per_hour is not None:
            self._check_rate(student, assignment, per_hour, moment)
        digest = self._keep(data)
        with self._db:
            self._db.execute("UPDATE uploads SET state = 'replaced', finished_s = ? WHERE "
                             "student = ? AND assignment = ? AND state = 'queued'",
                             (moment, student, assignment))
            number = self._db.execute(
                "INSERT INTO uploads (student, assignment, sha256, name, size, received_at, "
                "received_s, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued')",
                (student, assignment, digest, name, len(data), at(moment), moment)).lastrowid
        assert number is not None
        return self.get(number)

    def _check_rate(self, student: str, assignment: str, per_hour: int, moment: float) -> None:
        times = [row[0] for row in self._db.execute(
            "SELECT received_s FROM uploads WHERE student = ? AND assignment = ? AND "
            "received_s > ? ORDER BY received_s", (student, assignment, moment - 3600))]
        if len(times) >= per_hour:
            wait = times[len(times) - per_hour] + 3600 - moment
            raise GraderError(f"you have uploaded {assignment} {len(times)} times in the last "
                              f"hour, the most this course allows: try again in "
                              f"{max(1, round(wait / 60))} min")

    def _keep(self, data: bytes) -> str:
        """Write ``data`` once under its SHA-256 (atomically: a reader never sees half)."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.file(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{digest}.{os.getpid()}.part")
            partial.write_bytes(data)
            with open(partial, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, target)
        return digest

    def file(self, sha256: str) -> Path:
        """Where the upload with this digest is kept."""
        return self.folder / sha256[:2] / sha256

    # --- the queue ----------------------------------------------------------------------

    def claim(self) -> Upload | None:
        """The next upload to grade, in the fair order, marked ``grading`` (``None``: none
        waits). Safe with several graders at once: each upload is claimed once."""
        moment = self._clock()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute(_FAIR_ORDER + " LIMIT 1").fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE uploads SET state = 'grading', started_s = ?, "
                             "attempts = attempts + 1 WHERE id = ?", (moment, row[0]))
        return self.get(row[0])

    def finish(self, number: int, shown_score: float, shown_max: float, message: str = "") -> None:
        """The upload was graded (the result is in the gradebook); ``shown_score`` out of
        ``shown_max`` is what its visible checks earned, all its student sees at once."""
        with self._db:
            self._db.execute("UPDATE uploads SET state = 'graded', finished_s = ?, "
                             "shown_score = ?, shown_max = ?, message = ? WHERE id = ?",
                             (self._clock(), shown_score, shown_max, message, number))

    def fail(self, number: int, message: str) -> None:
        """The grader failed on the upload: queued again as if never served, or ``failed``
        after :data:`MAX_ATTEMPTS` tries (``message`` says why)."""
        with self._db:
            self._db.execute(
                "UPDATE uploads SET state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' "
                "END, started_s = NULL, finished_s = ?, message = ? WHERE id = ?",
                (MAX_ATTEMPTS, self._clock(), message, number))

    def recover(self) -> int:
        """At start: what a killed server was grading is queued again (or ``failed``, after
        :data:`MAX_ATTEMPTS` tries) as if never served, so it comes first; the number of
        uploads put back."""
        with self._db:
            return self._db.execute(
                "UPDATE uploads SET state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' "
                "END, started_s = NULL, message = CASE WHEN attempts >= ? THEN 'the grader "
                "stopped while grading "
                "it, ' || attempts || ' times' ELSE message END WHERE state = 'grading'",
                (MAX_ATTEMPTS, MAX_ATTEMPTS)).rowcount

    def requeue_failed(self, assignment: str | None = None) -> int:
        """Queue again the uploads the grader gave up on (of ``assignment``, or all), with a
        fresh count of attempts, once what failed them is fixed; how many."""
        with self._db:
            return self._db.execute(
                "UPDATE uploads SET state = 'queued', attempts = 0, started_s = NULL, "
                "message = '' WHERE state = 'failed' AND (? IS NULL OR assignment = ?)",
                (assignment, assignment)).rowcount

    def place(self, number: int, graders: int = 1) -> Place | None:
        """Where the waiting upload ``number`` stands (``None``: it is not waiting)."""
        order = [row[0] for row in self._db.execute(_FAIR_ORDER)]
        if number not in order:
            return None
        ahead = order.index(number)
        mean = self.mean_grading_s()
        return Place(ahead, None if mean is None else (ahead // max(1, graders) + 1) * mean)

    def mean_grading_s(self) -> float | None:
        """The mean time of the recent gradings (seconds), or ``None`` before the first."""
        row = self._db.execute(
            "SELECT avg(finished_s - started_s) FROM (SELECT finished_s, started_s FROM uploads "
            "WHERE state = 'graded' ORDER BY finished_s DESC LIMIT ?)",
            (RECENT_GRADINGS,)).fetchone()
        return None if row[0] is None else float(row[0])

    # --- reading ------------------------------------------------------------------------

    def get(self, number: int) -> Upload:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM uploads WHERE id = ?", (number,)).fetchone()
        if row is None:
            raise GraderError(f"no upload number {number}")
        return Upload(*row)

    def of(self, student: str, assignment: str | None = None) -> list[Upload]:
        """A student's uploads (of ``assignment``, or all), newest first."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM uploads WHERE student = ? AND (? IS NULL OR assignment = ?) "
            "ORDER BY received_s DESC, id DESC", (student, assignment, assignment))
        return [Upload(*row) for row in rows]

    def waiting(self) -> int:
        return self._db.execute("SELECT count(*) FROM uploads WHERE state = 'queued'").fetchone()[0]


_COLUMNS = ("id, student, assignment, sha256, name, size, received_at, state, attempts, "
            "shown_score, shown_max, message")
