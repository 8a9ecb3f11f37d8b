"""What a report needs to know of a rubric besides the recorded results: limits and thresholds.

Results do not carry their check's time limit or gradient threshold; the report
reads them from the rubric that graded them, when that rubric (same hash) is at hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CheckFacts:
    """One check's wall-clock limit (seconds) and, for gradient checks, the relative-error bar."""

    timeout_s: float | None = None
    rel_error: float | None = None


# rubric hash -> check id -> facts
RubricFacts = dict[str, dict[str, CheckFacts]]


def facts_of(rubric: Any) -> dict[str, CheckFacts]:
    """``check id -> CheckFacts`` of a validated :class:`grader.rubric.Rubric`."""
    facts = {}
    for check in rubric.checks:
        threshold = None
        if check.kind == "gradient":
            from grader.checks.gradient import GradientOptions

            threshold = GradientOptions.model_validate(check.options).rel_error
        facts[check.id] = CheckFacts(timeout_s=float(rubric.timeout_for(check)),
                                     rel_error=threshold)
    return facts
