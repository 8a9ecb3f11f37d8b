"""The prepared-case data model: a check's materialised inputs and expected outputs.

A leaf module (it imports nothing of :mod:`grader` at run time), so the check kinds,
the preparation that fills these objects from the reference, the student kit that
ships them and the Gradescope bundle all share one model without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.rubric.model import Check

Value = Any  # ndarray | float | int | bool | str | None


@dataclass
class PreparedCase:
    """One case: ordered arguments, expected outputs, and outputs of classic mistakes.

    ``arg_names[i]`` names ``args[i]``; ``expected`` is the reference's return value as a
    list (see :func:`as_outputs`); each diagnosis is ``(message, outputs of the mistake)``.
    ``reference_s``: the seconds the reference took to compute ``expected`` on the machine
    that prepared it (calibrated time limits follow it); ``None`` where it was not measured
    (a kit's or a bundle's cases).
    """

    id: str
    description: str
    arg_names: list[str]
    args: list[Value]
    expected: list[Value]
    diagnoses: list[tuple[str, list[Value]]] = field(default_factory=list)
    reference_s: float | None = None


@dataclass
class PreparedCheck:
    """A check's cases, or the reason it cannot run here (e.g. course data missing)."""

    check: Check
    cases: list[PreparedCase]
    unavailable: str | None = None
    uses_course_data: bool = False


def as_outputs(result: Any) -> list[Value]:
    """A function's return value as a list of plain outputs (a tuple is unpacked; arrays,
    lists and numpy scalars become ``ndarray``)."""
    values = list(result) if isinstance(result, tuple) else [result]
    return [np.asarray(v) if isinstance(v, (np.ndarray, list, np.generic)) else v for v in values]
