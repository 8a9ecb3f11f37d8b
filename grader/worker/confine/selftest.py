"""The worker proves its file rules before any student code: it tries what must fail.

A path is hidden only when this process tried to open it and failed. After the layers are
applied, the worker tries to read every *witness* the trusted side named (a file inside
each hidden place: the answer key, the harness, the grader's state and cache, the course
data, other submissions, the Gradescope bundle; or the place itself where it holds no file)
and to create a file in every folder it must not write (its submission, the Python
installation, the folder above its scratch, ...). Anything that succeeds is a leak: the
worker reports it, the ``files-verified`` mark is withheld, and a rubric with
``isolation: strict`` refuses to grade. Standard library only; a few dozen system calls.
"""

from __future__ import annotations

import errno
import os
import secrets

REFUSED = {errno.EACCES, errno.EPERM, errno.ENOENT, errno.EROFS, errno.ENOTDIR}
MARK = "files-verified"


def leaks(unreadable: list[str], unwritable: list[str]) -> list[str]:
    """What this process could do that it must not: ``read PATH`` or ``write in FOLDER``."""
    found = [f"read {path}" for path in unreadable if _opens(path)]
    return found + [f"write in {folder}" for folder in unwritable if _creates(folder)]


def _opens(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        return exc.errno not in REFUSED and exc.errno != errno.ELOOP
    os.close(fd)
    return True


def _creates(folder: str) -> bool:
    path = os.path.join(folder, f".grader-selftest-{secrets.token_hex(6)}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        return exc.errno not in REFUSED and exc.errno not in (errno.EEXIST, errno.ENOSPC)
    os.close(fd)
    os.unlink(path)
    return True
