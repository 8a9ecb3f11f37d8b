"""Check kinds, one class per module, registered by name.

A new kind is a new module with a :class:`~grader.checks.base.CheckKind`
subclass plus one line in :data:`KINDS` — never a new ``elif``.
"""

from __future__ import annotations

from grader.checks.base import CheckKind
from grader.checks.numeric import NumericCheck

KINDS: dict[str, type[CheckKind]] = {
    NumericCheck.name: NumericCheck,
}

__all__ = ["KINDS", "CheckKind"]
