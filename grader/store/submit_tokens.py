"""Tokens that let ``grader submit`` hand in for a student from the command line.

A student makes one on their page of the course's server and pastes it into ``grader submit
--token`` (or ``GRADER_SUBMIT_TOKEN``); a new one replaces the old, and the student or an
instructor can revoke it. Only a hash is stored, so a copy of the gradebook submits nothing,
and the token travels in a header (never in an address, which logs keep).
"""

from __future__ import annotations

import secrets

from grader.stamps import now
from grader.store.database import Tables
from grader.store.staff import secret_digest

PREFIX = "gst_"  # a token says what it is (a secret scanner can find one pasted in a repository)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submit_tokens (
    token_hash TEXT PRIMARY KEY, student TEXT NOT NULL, made_at TEXT NOT NULL,
    revoked_at TEXT);
CREATE INDEX IF NOT EXISTS submit_tokens_by_student ON submit_tokens (student);
"""


class SubmitTokens(Tables):
    """The submit tokens of the gradebook at ``path``."""

    SCHEMA = _SCHEMA

    def issue(self, student: str) -> str:
        """A new token for ``student``; their earlier ones stop working."""
        token = PREFIX + secrets.token_urlsafe(32)
        with self._db:
            self._revoke(student)
            self._db.execute("INSERT INTO submit_tokens VALUES (?, ?, ?, NULL)",
                             (secret_digest(token), student, now()))
        return token

    def revoke(self, student: str) -> int:
        """Revoke every token of ``student``; how many were live."""
        with self._db:
            return self._revoke(student)

    def _revoke(self, student: str) -> int:
        return self._db.execute("UPDATE submit_tokens SET revoked_at = ? WHERE student = ? AND "
                                "revoked_at IS NULL", (now(), student)).rowcount

    def student_of(self, token: str | None) -> str | None:
        """The student a live token belongs to, or ``None``."""
        if not token or not token.startswith(PREFIX):
            return None
        row = self._db.execute("SELECT student FROM submit_tokens WHERE token_hash = ? AND "
                               "revoked_at IS NULL", (secret_digest(token),)).fetchone()
        return row[0] if row else None

    def has_live(self, student: str) -> bool:
        return self._db.execute("SELECT 1 FROM submit_tokens WHERE student = ? AND revoked_at "
                                "IS NULL", (student,)).fetchone() is not None
