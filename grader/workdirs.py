"""Private temporary folders of this process (materialised submissions, sandbox workspaces).

Every folder this process makes lives in one private base folder of its own in the system
temp folder, ``grader-run-<pid>-<random>``: mode 0700 (0711 for a root grader, so that a
sandbox's own uid can pass through to the one workspace it is given, and list nothing).
No student, and no other student's sandbox, can read or replace another submission's files
there. The base is removed when its last folder is, and its name carries the PID that made
it, so a grader killed with SIGKILL leaves folders that the next run recognises as
orphaned and removes.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import threading
from pathlib import Path

from grader.pids import alive

_OWNER = re.compile(r"^grader-(?:run|submission|scratch)-(\d+)-")
_lock = threading.Lock()
_base: Path | None = None
_live: set[Path] = set()


def make(prefix: str) -> Path:
    """A new folder ``<prefix><random>`` (mode 0700) in this process's private base."""
    global _base
    with _lock:
        if _base is None or not _base.is_dir():
            _base = Path(tempfile.mkdtemp(prefix=f"grader-run-{os.getpid()}-", dir=_parent()))
            os.chmod(_base, 0o711 if os.geteuid() == 0 else 0o700)
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=_base))
        _live.add(folder)
        return folder


def current_base() -> Path | None:
    """This process's private base folder, while it has one (a sandbox must not list it)."""
    with _lock:
        return _base


def remove(folder: Path) -> None:
    """Remove ``folder`` (read-only parts included); the base goes with the last one."""
    global _base
    rmtree(folder)
    with _lock:
        _live.discard(Path(folder))
        if not _live and _base is not None:
            try:
                _base.rmdir()
                _base = None
            except OSError:
                pass


def rmtree(folder: Path) -> None:
    """``shutil.rmtree`` that also removes what was made read-only for a sandbox. Only what is
    inside ``folder`` (``folder`` too) is ever made writable: never the folder above it, which
    for a run folder is the system's temp folder (a run folder another grader removed first,
    or that vanished while it was listed, once made /tmp 0700 for every other uid)."""
    root = os.path.abspath(folder)

    def make_writable(function, path, _):
        path = os.path.abspath(path)
        for target in (os.path.dirname(path), path):
            if target != root and not target.startswith(root + os.sep):
                continue
            try:
                os.chmod(target, stat.S_IRWXU)
            except OSError:
                pass
        try:
            function(path)
        except OSError:
            pass

    shutil.rmtree(folder, onerror=make_writable)


def _parent() -> str:
    """The system temp folder; for a root grader one that every uid can pass through (a
    sandbox's own uid must reach its workspace), else ``/tmp``."""
    folder = tempfile.gettempdir()
    if os.geteuid() != 0:
        return folder
    steps = [Path(folder), *Path(folder).parents]
    passable = all(step.stat().st_mode & stat.S_IXOTH for step in steps)
    return folder if passable else "/tmp"


def sweep_orphans() -> int:
    """Remove folders left by grader processes that no longer exist; return how many."""
    removed = 0
    folders = dict.fromkeys([Path(tempfile.gettempdir()), Path(_parent())])
    for entry in (e for folder in folders for e in folder.glob("grader-*-*")):
        match = _OWNER.match(entry.name)
        if match and entry.is_dir() and not alive(int(match.group(1))):
            rmtree(entry)
            removed += 1
    return removed
