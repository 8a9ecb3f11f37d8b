"""Whether a process exists: one copy for the gradebook's folders, the executors and the sandbox.

A leaf module (the standard library only), so that :mod:`grader.workdirs`, which the sandbox
uses, does not import the sandbox package back.
"""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (also one of another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
