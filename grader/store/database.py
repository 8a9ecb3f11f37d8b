"""Opening the tables of one part of the store in the gradebook's SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import ClassVar, Self

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


class Tables:
    """Tables of one part of the store (``SCHEMA``) in the gradebook at ``path``, as a context
    manager that closes its connection."""

    SCHEMA: ClassVar[str]

    def __init__(self, path: Path) -> None:
        self._db = open_tables(path, self.SCHEMA)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._db.close()
