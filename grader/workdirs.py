"""Temporary folders of this process (extracted submissions, worker scratch), and their cleanup.

Each folder's name carries the PID that made it, so a grader killed with
SIGKILL leaves folders that the next run recognises as orphaned and removes.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

PREFIXES = ("grader-submission-", "grader-scratch-")
_OWNER = re.compile(r"^grader-(?:submission|scratch)-(\d+)-")


def make(prefix: str) -> Path:
    """A new private folder named ``<prefix><pid>-<random>`` in the system temp folder."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


def sweep_orphans() -> int:
    """Remove folders left by grader processes that no longer exist; return how many."""
    removed = 0
    for entry in Path(tempfile.gettempdir()).glob("grader-*-*"):
        match = _OWNER.match(entry.name)
        if match and entry.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
