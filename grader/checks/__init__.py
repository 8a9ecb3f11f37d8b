"""Check kinds, one class per module, registered by name.

A new kind is a new module with a :class:`~grader.checks.base.CheckKind`
subclass plus one line in :data:`KINDS` — never a new ``elif``.
"""

from __future__ import annotations

from grader.checks.base import CheckKind
from grader.checks.gradient import GradientCheck
from grader.checks.numeric import NumericCheck
from grader.checks.accuracy import AccuracyCheck
from grader.checks.property import PropertyCheck
from grader.checks.timing import TimingCheck
from grader.checks.training import TrainingCheck
from grader.checks.architecture import ArchitectureCheck
from grader.checks.datasets import DatasetsCheck

KINDS: dict[str, type[CheckKind]] = {
    NumericCheck.name: NumericCheck,
    GradientCheck.name: GradientCheck,
    AccuracyCheck.name: AccuracyCheck,
    PropertyCheck.name: PropertyCheck,
    TimingCheck.name: TimingCheck,
    TrainingCheck.name: TrainingCheck,
    ArchitectureCheck.name: ArchitectureCheck,
    DatasetsCheck.name: DatasetsCheck,
}

__all__ = ["KINDS", "CheckKind"]
