"""The class summary: score statistics, the checks everyone fails, timings, troubled submissions.

Instructors read it before answering forum questions, so checks are sorted
from the hardest (lowest pass rate) and each lists its most common failure
messages, grouped with their numbers masked ("max abs error # at (#, #)").
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from grader.figures.encode import figure_png, new_figure
from grader.report.environment import ENV
from grader.report.student import StudentView
from grader.results import Status

TOP_MESSAGES = 3
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TROUBLE = (Status.ERROR, Status.TIMEOUT, Status.MEMORY)


@dataclass
class CheckStats:
    """How the class did on one check."""

    id: str
    name: str
    max_score: float
    visibility: str
    limit_s: float | None = None
    graded: int = 0  # results that ran the check (not skipped for missing data)
    passed: int = 0
    mean_score: float = 0.0
    statuses: list[tuple[str, int]] = field(default_factory=list)
    failures: list[tuple[str, int]] = field(default_factory=list)  # an example message, count
    timing: dict[str, float] = field(default_factory=dict)  # median, p90, max seconds

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 1.0


@dataclass
class Trouble:
    """A submission with checks that errored, timed out or ran out of memory."""

    view: StudentView
    checks: list[tuple[str, str, str]]  # check id, status, message


@dataclass
class AssignmentSummary:
    assignment: str
    views: list[StudentView]
    stats: dict[str, float]
    checks: list[CheckStats]
    troubles: list[Trouble]
    histogram: str = ""
    timing_chart: str = ""

    @property
    def max_score(self) -> float:
        return max((v.result.max_score for v in self.views), default=0.0)


def summarize(views: list[StudentView]) -> list[AssignmentSummary]:
    """One summary per assignment found in ``views`` (sorted by name)."""
    by_assignment: dict[str, list[StudentView]] = {}
    for view in views:
        by_assignment.setdefault(view.result.assignment, []).append(view)
    summaries = []
    for assignment in sorted(by_assignment):
        group = by_assignment[assignment]
        limits: dict[str, float | None] = {}
        for view in group:  # each result records its checks' limits (the newest rubric's first)
            for check in view.result.checks:
                if check.limit_s is not None:
                    limits.setdefault(check.id, check.limit_s)
        checks = _check_stats(group, limits)
        summaries.append(AssignmentSummary(
            assignment=assignment, views=group, stats=score_stats([v.result.score for v in group]),
            checks=checks, troubles=_troubles(group),
            histogram=_histogram([v.result.score for v in group],
                                 max(v.result.max_score for v in group)),
            timing_chart=_timing_chart(checks, group)))
    return summaries


def score_stats(scores: list[float]) -> dict[str, float]:
    """Count, mean, standard deviation, min, quartiles, median and max of ``scores``."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return {"count": 0}
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {"count": int(values.size), "mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "q1": float(q1), "median": float(median),
            "q3": float(q3), "max": float(values.max())}


def mask_numbers(message: str) -> str:
    """``message`` with every number replaced by ``#``, to group messages that differ only there."""
    return _NUMBER.sub("#", message)


def _check_stats(views: list[StudentView], limits: dict[str, float | None]) -> list[CheckStats]:
    found: dict[str, CheckStats] = {}
    scores: dict[str, list[float]] = {}
    statuses: dict[str, Counter] = {}
    messages: dict[str, Counter] = {}
    examples: dict[tuple[str, str], str] = {}
    durations: dict[str, list[float]] = {}
    for view in views:
        for check in view.result.checks:
            stats = found.setdefault(check.id, CheckStats(check.id, check.name, check.max_score,
                                                          check.visibility, limits.get(check.id)))
            statuses.setdefault(check.id, Counter())[check.status.value] += 1
            if check.status == Status.SKIPPED and check.max_score == 0:
                continue  # could not run here (data missing): not counted either way
            stats.graded += 1
            stats.passed += check.status == Status.PASSED
            scores.setdefault(check.id, []).append(check.score)
            if check.status != Status.SKIPPED:
                durations.setdefault(check.id, []).append(check.duration_s)
            if check.status != Status.PASSED:
                key = mask_numbers(check.message)
                messages.setdefault(check.id, Counter())[key] += 1
                examples.setdefault((check.id, key), check.message)
    for check_id, stats in found.items():
        stats.mean_score = float(np.mean(scores[check_id])) if scores.get(check_id) else 0.0
        stats.statuses = [(s.value, statuses[check_id][s.value]) for s in Status
                          if statuses[check_id][s.value]]
        stats.failures = [(examples[(check_id, key)], count) for key, count in
                          messages.get(check_id, Counter()).most_common(TOP_MESSAGES)]
        times = durations.get(check_id)
        if times:
            median, p90 = np.percentile(times, [50, 90])
            stats.timing = {"median": float(median), "p90": float(p90), "max": float(max(times))}
    order = {check_id: i for i, check_id in enumerate(found)}
    return sorted(found.values(), key=lambda s: (s.pass_rate, order[s.id]))


def _troubles(views: list[StudentView]) -> list[Trouble]:
    troubles = []
    for view in views:
        bad = [(c.id, c.status.value, c.message) for c in view.result.checks if c.status in _TROUBLE]
        if bad:
            troubles.append(Trouble(view, bad))
    return troubles


def _histogram(scores: list[float], max_score: float) -> str:
    return _draw_histogram(tuple(scores), max_score)


@functools.lru_cache(maxsize=64)  # a cache: the same class drawn again is not redrawn
def _draw_histogram(scores: tuple[float, ...], max_score: float) -> str:
    figure = new_figure(6.0, 2.2)
    ax = figure.add_axes((0.08, 0.2, 0.9, 0.72))
    top = max(max_score, max(scores, default=0.0), 1e-9)
    bins = np.linspace(0, top, min(20, max(5, int(np.ceil(top)))) + 1)
    ax.hist(np.clip(scores, 0, top), bins=bins.tolist(), color="#3f6fb5", edgecolor="white")
    ax.set_xlim(0, top)
    ax.set_xlabel("score", fontsize=8)
    ax.set_ylabel("students", fontsize=8)
    ax.tick_params(labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if scores:
        ax.axvline(float(np.mean(scores)), color="#c62828", linestyle="--", linewidth=1)
    return figure_png(figure, dpi=100)


def _timing_chart(checks: list[CheckStats], views: list[StudentView]) -> str:
    """Box plots of each check's time (log scale), with its time limit as a tick when known."""
    order = sorted(checks, key=lambda s: s.id)
    series = []
    for stats in order:
        times = [c.duration_s for v in views for c in v.result.checks
                 if c.id == stats.id and c.status != Status.SKIPPED]
        series.append(np.maximum(np.asarray(times, dtype=np.float64), 1e-4))
    shown = tuple((s.id, s.limit_s, tuple(t.tolist())) for s, t in zip(order, series) if t.size)
    return _draw_timing(shown) if shown else ""


@functools.lru_cache(maxsize=64)  # a cache: the same class drawn again is not redrawn
def _draw_timing(shown: tuple[tuple[str, float | None, tuple[float, ...]], ...]) -> str:
    """The box plots of ``(check id, time limit, times)`` rows."""
    figure = new_figure(6.0, 0.8 + 0.28 * len(shown))
    height = 0.8 + 0.28 * len(shown)
    ax = figure.add_axes((0.3, 0.45 / height + 0.05, 0.66, 1 - (0.45 / height + 0.05) - 0.2 / height))
    ax.boxplot([list(times) for _, _, times in shown], widths=0.6, showfliers=True,
               flierprops={"markersize": 2}, **_horizontal())
    for row, (_, limit_s, _) in enumerate(shown, start=1):
        if limit_s:
            ax.plot([limit_s], [row], marker="|", color="#c62828", markersize=10)
    ax.set_xscale("log")
    ax.set_yticks(range(1, len(shown) + 1), [name for name, _, _ in shown], fontsize=7)
    ax.set_xlabel("seconds (red tick: time limit)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    return figure_png(figure, dpi=100)


def _horizontal() -> dict:
    """Horizontal box plots: ``orientation`` from matplotlib 3.10, ``vert`` before."""
    from matplotlib import __version__

    major, minor = (int(part) for part in __version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def render_summary_html(summaries: list[AssignmentSummary],
                        similar: dict[str, list[tuple]] | None = None) -> str:
    """The class summary; ``similar`` maps an assignment to its flagged pairs
    ``(a, b, share_a, share_b, link)`` (grader similarity)."""
    return ENV.get_template("summary.html.j2").render(summaries=summaries, similar=similar or {})
