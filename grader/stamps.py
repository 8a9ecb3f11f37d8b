"""Who made a record and when: the stamp every result and every staff change carries."""

from __future__ import annotations

import datetime as dt
import getpass
import os


def who(given: str | None) -> str:
    """The name an instructor's change is recorded under: ``--by`` or the OS user."""
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def now() -> str:
    """This moment in UTC, ISO 8601 to the second (as results and staff records store it)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def at(seconds: float) -> str:
    """``seconds`` since the epoch as :func:`now` writes a moment."""
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="seconds")
