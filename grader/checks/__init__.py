"""Check kinds, one class per module, registered by name.

A new kind is a new module here with a :class:`~grader.checks.base.CheckKind` subclass
decorated with ``@KINDS.register`` — nothing else changes (:mod:`grader.plugins`). Modules
whose names start with ``_`` are the kinds' private helpers.
"""

from __future__ import annotations

from grader.checks.base import CheckKind
from grader.plugins import Registry

KINDS: Registry[type[CheckKind]] = Registry("check kind", __name__, name_of=lambda kind: kind.name)

__all__ = ["KINDS", "CheckKind"]
