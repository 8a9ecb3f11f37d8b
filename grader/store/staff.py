"""Who may sign in to the course's server: staff with a role, students on the roster; one-time
login links and web sessions.

Nobody has a password. An instructor (or ``grader serve`` on its first start) mints a login
link for a member of staff or a student on the roster (``grader staff roster``); the link
works once, for 15 minutes, and opens a session whose cookie carries a random id. Only hashes of links and session ids are stored, so a copy of the
gradebook opens no session. Every session has its own CSRF token.

The tables live in the gradebook's SQLite file, beside the grades they guard; the command line
(``grader staff``) and the web application write the same rows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.store.database import Tables
from grader.store.queues import ROSTER_SCHEMA
from grader.stamps import now

ROLES = ("instructor", "ta")
LINK_TTL_S = 15 * 60
SESSION_TTL_S = 12 * 3600
FAILURE_WINDOW_S = 600  # failed logins counted over this window, per address
FREE_FAILURES = 5  # failed logins an address may make before each one waits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS staff (
    login TEXT PRIMARY KEY, role TEXT NOT NULL, added_by TEXT NOT NULL, added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS login_links (
    token_hash TEXT PRIMARY KEY, login TEXT NOT NULL, expires_at REAL NOT NULL, used_at REAL);
CREATE TABLE IF NOT EXISTS web_sessions (
    id_hash TEXT PRIMARY KEY, login TEXT NOT NULL, csrf TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS login_failures (address TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_by_address ON login_failures (address, at);
"""


STUDENT = "student"  # the role of a signed-in student (their login is their id on the roster)


@dataclass(frozen=True)
class Member:
    """Someone who may sign in: ``login`` (their id), ``role`` (``instructor``, ``ta``, or
    :data:`STUDENT`)."""

    login: str
    role: str

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"

    @property
    def staff(self) -> bool:
        return self.role in ROLES


@dataclass(frozen=True)
class Session:
    """A signed-in member and the CSRF token every form of theirs carries."""

    member: Member
    csrf: str

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.csrf)


class Staff(Tables):
    """The staff tables of the gradebook at ``path``; use as a context manager.

    ``clock`` gives the time in seconds (tests move it).
    """

    SCHEMA = _SCHEMA + ROSTER_SCHEMA

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        super().__init__(path)
        self._clock = clock

    # --- accounts ---------------------------------------------------------------------

    def add(self, login: str, role: str, by: str) -> Member:
        """Add ``login`` with ``role`` (or change their role); one sentence on a bad value."""
        if role not in ROLES:
            raise GraderError(f"role {role!r}: choose one of {', '.join(ROLES)}")
        login = login.strip()
        if not login or len(login) > 64 or any(c.isspace() for c in login):
            raise GraderError(f"login {login!r}: one word of at most 64 characters")
        with self._db:
            self._db.execute("INSERT INTO staff VALUES (?, ?, ?, ?) ON CONFLICT(login) DO "
                             "UPDATE SET role = excluded.role", (login, role, by, now()))
        return Member(login, role)

    def member(self, login: str) -> Member | None:
        row = self._db.execute("SELECT login, role FROM staff WHERE login = ?", (login,)).fetchone()
        return Member(*row) if row else None

    def members(self) -> list[Member]:
        return [Member(*row) for row in
                self._db.execute("SELECT login, role FROM staff ORDER BY role, login")]

    def person(self, login: str) -> Member | None:
        """``login`` as they sign in: a member of staff, else a student on the roster."""
        member = self.member(login)
        if member is not None:
            return member
        row = self._db.execute("SELECT 1 FROM roster WHERE student = ?", (login,)).fetchone()
        return Member(login, STUDENT) if row else None

    # --- login links ------------------------------------------------------------------

    def link_token(self, login: str, ttl_s: float = LINK_TTL_S) -> str:
        """A new one-time login token for ``login`` (valid ``ttl_s`` seconds): a member of
        staff or a student on the roster."""
        if self.person(login) is None:
            raise GraderError(f"{login} is neither on the staff nor on the roster: add them first "
                              "(grader staff add, grader staff roster)")
        token = secrets.token_urlsafe(32)
        with self._db:
            self._db.execute("INSERT INTO login_links VALUES (?, ?, ?, NULL)",
                             (secret_digest(token), login, self._clock() + ttl_s))
        return token

    def redeem(self, token: str, address: str) -> tuple[str, Session] | None:
        """Spend ``token``: a new session (its cookie value and itself), or ``None`` when the
        token is unknown, used or expired (the failure counts against ``address``)."""
        moment = self._clock()
        with self._db:
            row = self._db.execute(
                "UPDATE login_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL "
                "AND expires_at > ? RETURNING login",
                (moment, secret_digest(token), moment)).fetchone()
            member = self.person(row[0]) if row else None
            if member is None:
                self._db.execute("INSERT INTO login_failures VALUES (?, ?)", (address, moment))
                return None
            cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            self._db.execute("INSERT INTO web_sessions VALUES (?, ?, ?, ?)",
                             (secret_digest(cookie), member.login, csrf, moment + SESSION_TTL_S))
        return cookie, Session(member, csrf)

    def wait_before_login(self, address: str) -> float:
        """Seconds ``address`` must wait before its next login attempt: 0 for its first
        :data:`FREE_FAILURES` failures in :data:`FAILURE_WINDOW_S`, then doubling, at most 60."""
        since = self._clock() - FAILURE_WINDOW_S
        failures, last = self._db.execute(
            "SELECT count(*), max(at) FROM login_failures WHERE address = ? AND at > ?",
            (address, since)).fetchone()
        if failures < FREE_FAILURES:
            return 0.0
        delay = min(60.0, 2.0 ** (failures - FREE_FAILURES))
        return max(0.0, last + delay - self._clock())

    # --- sessions ---------------------------------------------------------------------

    def session(self, cookie: str | None) -> Session | None:
        """The live session of a cookie value (``None``: none, expired, or its person left the
        staff or the roster)."""
        if not cookie:
            return None
        row = self._db.execute(
            "SELECT s.login, coalesce(m.role, CASE WHEN r.student IS NULL THEN NULL ELSE ? END), "
            "s.csrf FROM web_sessions s LEFT JOIN staff m USING (login) LEFT JOIN roster r "
            "ON r.student = s.login WHERE s.id_hash = ? AND s.expires_at > ?",
            (STUDENT, secret_digest(cookie), self._clock())).fetchone()
        return Session(Member(row[0], row[1]), row[2]) if row and row[1] else None

    def end(self, cookie: str) -> None:
        """Sign out: the session of ``cookie`` is gone."""
        with self._db:
            self._db.execute("DELETE FROM web_sessions WHERE id_hash = ?",
                             (secret_digest(cookie),))


def secret_digest(secret: str) -> str:
    """What the gradebook stores of a secret (a link, a session id, a submit token): its
    SHA-256, so a copy of the gradebook opens nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()
