"""Partial credit by a curve: a measured number (accuracy, speed ratio) → a fraction of the points.

A rubric gives the curve as ``options: {curve: [[x0, f0], [x1, f1], ...]}``
with increasing ``x``: the fraction is interpolated linearly between the
points and held constant beyond the ends, e.g. ``[[0, 0], [0.5, 0.5],
[0.8, 1]]`` gives full credit from an accuracy of 0.8 on.

:class:`CurveScored` is the base of kinds whose cases earn a *fraction* of
the points instead of all or nothing: their :meth:`judge` puts it in
``Verdict.details["fraction"]`` and a short per-case summary in
``details["summary"]``; the check's score is the mean fraction, and its
message lists every case (hidden checks list only the numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from grader.checks._options import KindOptions
from grader.checks.base import CheckKind, Verdict
from grader.prepare.prepared import PreparedCheck
from grader.results import CheckResult


def curve_problem(curve: Any) -> str | None:
    """Why ``curve`` is not a valid ``[[x, fraction], ...]`` list, or ``None``."""
    try:
        points = np.asarray(curve, dtype=float)
    except (TypeError, ValueError):
        return "curve must be a list of [x, fraction] pairs of numbers"
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 1:
        return "curve must be a list of [x, fraction] pairs, e.g. [[0, 0], [0.8, 1]]"
    if np.any(np.diff(points[:, 0]) <= 0):
        return "curve x values must increase strictly"
    if np.any((points[:, 1] < 0) | (points[:, 1] > 1)):
        return "curve fractions must lie in [0, 1]"
    return None


def curve_fraction(curve: Sequence[Sequence[float]], x: float) -> float:
    """The fraction of the points earned at ``x`` (piecewise linear, clamped at the ends)."""
    points = np.asarray(curve, dtype=float)
    return float(np.interp(x, points[:, 0], points[:, 1]))


class CurveOptions(KindOptions):
    """The options of every curve-scored kind; each kind adds its own."""

    curve: list[tuple[float, float]] = Field(examples=[[[0, 0], [0.8, 1]]])
    """``[x, fraction]`` points, ``x`` increasing (the kind's measure: accuracy, time ratio), each
    fraction of the points in [0, 1]; linear between them, constant beyond the ends"""

    @field_validator("curve", mode="before")
    @classmethod
    def _a_curve(cls, curve: Any) -> Any:
        problem = curve_problem(curve)
        if problem:
            raise ValueError(problem)
        return curve


class CurveScored(CheckKind):
    """A kind whose cases each earn ``details["fraction"]`` of the points (see module docstring)."""

    options_model: ClassVar[type[CurveOptions]] = CurveOptions

    @staticmethod
    def scored(fraction: float, summary: str, details: dict[str, Any],
               metric: float | None = None, device: str = "") -> Verdict:
        """A verdict earning ``fraction``; it passes only with full credit. ``metric``: the
        number measured (it goes on a leaderboard); ``device``: where the code ran."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        details = {**details, "fraction": round(fraction, 6), "summary": summary}
        return Verdict(fraction >= 1 - 1e-9, summary, details, credit=fraction, metric=metric,
                       device=device)

    def _result(self, prepared: PreparedCheck, verdicts: list[Verdict], stdout: str,
                seconds: float) -> CheckResult:
        result = super()._result(prepared, verdicts, stdout, seconds)
        fractions = [v.earned for v in verdicts]
        per_case = [
            {"case": case.id, **{k: v for k, v in verdict.details.items() if k != "traceback"},
             "message": verdict.message}
            for case, verdict in zip(prepared.cases, verdicts)
        ]
        return replace(result, message=self._summary(prepared, verdicts),
                       details={**result.details, "per_case": per_case,
                                "fraction": round(float(np.mean(fractions)), 6) if fractions else 0.0})

    @staticmethod
    def _summary(prepared: PreparedCheck, verdicts: list[Verdict]) -> str:
        """One clause per case: ``case: what happened``; hidden checks drop hints."""
        hidden = prepared.check.visibility != "visible"
        parts = []
        for case, verdict in zip(prepared.cases, verdicts):
            text = verdict.details.get("summary", verdict.message) if hidden else verdict.message
            parts.append(f"{case.id}: {text}")
        return "; ".join(parts)
