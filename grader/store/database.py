"""Opening the tables of one part of the store in the gradebook's SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from grader.errors import GraderError


def open_tables(path: Path, schema: str) -> sqlite3.Connection:
    """A connection to the gradebook at ``path`` (write-ahead log: readers never wait for a
    writer) with ``schema``'s tables created when missing; one sentence if it is no gradebook."""
    try:
        db = sqlite3.connect(Path(path), timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        with db:
            db.executescript(schema)
    except sqlite3.DatabaseError as exc:
        raise GraderError(f"{path}: not a usable gradebook ({exc})") from None
    return db
