"""Unprivileged uids for sandboxes when the grader runs as root, one per running sandbox.

A root grader (Gradescope, containers, CI) gives each sandbox a uid and gid of its own, so
that owner bits protect the grader's files, ``RLIMIT_NPROC`` applies, and no student can
signal, trace or read another's processes and files. The uids come from a large range that
no account uses (by default 16 777 216 uids from 2^30, within this user namespace's mapping;
``GRADER_SANDBOX_UIDS=FIRST-LAST`` chooses another), and each grader starts at a random
place in it, so that two graders on one host — two containers that see each other's
processes, or a container and its host — do not meet. A uid is taken only if no account
has it, no other sandbox of this machine holds its lock, and **no live process has it**:
then every process that carries it belongs to this sandbox. Nothing here kills anything:
a sandbox's processes end through its own cgroup, supervisor and process tree
(:mod:`grader.sandbox.session`), never through a sweep of a uid another grader might use.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import secrets
from dataclasses import dataclass
from pathlib import Path

RANGE_ENV = "GRADER_SANDBOX_UIDS"
DEFAULT_RANGE = (1 << 30, (1 << 30) + (1 << 24) - 1)
MAX_TRIES = 4096  # candidates looked at before giving up (taken ones are skipped)


@dataclass
class Lease:
    """A uid (and the gid of the same number) held by one sandbox until :meth:`release`."""

    uid: int
    _fd: int
    _path: Path | None = None

    @property
    def gid(self) -> int:
        return self.uid

    def release(self) -> None:
        """Hand the uid back: its lock file goes (still locked, so no one holds a stale copy)."""
        if self._fd >= 0:
            if self._path is not None:
                self._path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = -1


def uid_range() -> tuple[int, int]:
    """The first and last uid sandboxes may use: ``GRADER_SANDBOX_UIDS`` or the default,
    within what this user namespace maps (uids and gids alike)."""
    text = os.environ.get(RANGE_ENV, "")
    try:
        first, last = (int(part) for part in text.split("-"))
    except ValueError:
        first, last = DEFAULT_RANGE
    if not 0 < first <= last:
        first, last = DEFAULT_RANGE
    mapped = _mapped("/proc/self/uid_map") and _mapped("/proc/self/gid_map")
    if mapped and not text:
        low, high = mapped
        first, last = max(first, low), min(last, high)
        if first > last:  # a small mapping (rootless containers): its upper half
            first, last = (low + high + 1) // 2, high
    return first, last


def acquire() -> Lease:
    """A free uid of the range, from a random place in it (waiting for none).

    Raises
    ------
    OSError
        When no uid of the range is free after :data:`MAX_TRIES` candidates.
    """
    folder = lock_folder()
    first, last = uid_range()
    size = last - first + 1
    start = secrets.randbelow(size)
    busy = _uids_in_use()
    for step in range(min(size, MAX_TRIES)):
        uid = first + (start + step) % size
        if uid in busy or _named(uid):
            continue
        lease = _lock(folder, uid)
        if lease is not None:
            return lease
    raise OSError(f"no free sandbox uid from {first} to {last}; widen {RANGE_ENV}")


def _lock(folder: Path, uid: int) -> Lease | None:
    """Hold ``uid``'s lock file; ``None`` when another sandbox does. A file unlinked by the
    holder's release after this one opened it does not count: it must still be the file."""
    path = folder / str(uid)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.stat(path).st_ino != os.fstat(fd).st_ino:
            raise BlockingIOError
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        return None
    return Lease(uid, fd, path)


def _uids_in_use() -> set[int]:
    """The real uids of every live process this process can see."""
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            uid = _real_uid(int(name))
            if uid is not None:
                found.add(uid)
    return found


def _mapped(path: str) -> tuple[int, int] | None:
    """The widest range of ids a user-namespace map file maps (inside ids)."""
    try:
        lines = Path(path).read_text().split("\n")
    except OSError:
        return None
    spans = [(int(inside), int(inside) + int(count) - 1)
             for inside, _, count in (line.split() for line in lines if line.strip())]
    return max(spans, key=lambda span: span[1] - span[0]) if spans else None


def lock_folder() -> Path:
    """One folder for the whole machine (not ``$TMPDIR``): graders started with different
    temp folders must still not hand out the same uid."""
    for base in (Path("/run"), Path("/tmp")):
        folder = base / f"cv-course-grader-uids-{os.geteuid()}"
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            continue
        info = folder.lstat()
        if info.st_uid != os.geteuid() or info.st_mode & 0o077 or not folder.is_dir():
            raise OSError(f"{folder} is not a private folder of this user; remove it")
        return folder
    raise OSError("neither /run nor /tmp can hold the sandbox uid locks")


def _named(uid: int) -> bool:
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except KeyError:
            pass
    return False


def _real_uid(pid: int) -> int | None:
    """The real uid of a live process (``None`` for a zombie or a process gone).

    Read as bytes: the kernel escapes a newline in the ``Name:`` line, so a process cannot
    forge a line of its own status.
    """
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            status = handle.read()
        if _status_field(status, b"State:")[:1] in (b"Z", b"X"):
            return None
        return int(_status_field(status, b"Uid:").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _status_field(status: bytes, name: bytes) -> bytes:
    """The value of the line ``name`` of a ``/proc/PID/status`` (empty when it has none)."""
    start = status.find(b"\n" + name)
    if start < 0:
        return b""
    start += len(name) + 1
    end = status.find(b"\n", start)
    return status[start:end if end >= 0 else len(status)].strip()
