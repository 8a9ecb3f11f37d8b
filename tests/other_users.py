"""Other uids reaching this Python: what the sandbox's own uid and the hostile corpus's
ordinary-user mode need.

On this project's machines Python lives under root's 0700 home (pyenv in ``/root``), which no
other uid may enter: there the grader records the uid layer as off, and the tests that need
another uid to run this interpreter open the way for their own duration only
(:func:`opened_for_other_users`: search permission, ``o+x``, on each folder above the
installation and the checkout that lacks it; restored afterwards).
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

USER_UID = 64999  # the "ordinary user" of the user mode (outside the sandbox uid range)
REPO = Path(__file__).resolve().parents[1]


def reachable(uid: int = USER_UID) -> bool:
    """Whether ``uid`` can run this interpreter and import numpy and the harness."""
    try:
        probe = subprocess.run([sys.executable, "-c", "import numpy, grader"], user=uid,
                               group=uid, extra_groups=[], capture_output=True, cwd="/",
                               env={"PATH": os.environ.get("PATH", "")}, timeout=60)
    except PermissionError:  # the interpreter itself is behind a folder uid may not enter
        return False
    return probe.returncode == 0


@contextlib.contextmanager
def opened_for_other_users() -> Iterator[bool]:
    """Let other uids pass through the folders above this Python and the checkout while the
    block runs (as root); yields whether another uid can then run this Python."""
    opened: list[tuple[Path, int]] = []
    if os.geteuid() == 0 and not reachable():
        for target in (Path(sys.prefix), Path(sys.base_prefix), REPO):
            for folder in [target, *target.parents]:
                mode = folder.stat().st_mode
                if not mode & stat.S_IXOTH and folder not in [f for f, _ in opened]:
                    opened.append((folder, stat.S_IMODE(mode)))
                    os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield reachable()
    finally:
        for folder, mode in reversed(opened):
            os.chmod(folder, mode)
