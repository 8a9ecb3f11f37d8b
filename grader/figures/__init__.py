"""The pictures of one check, where a picture beats a sentence.

Each check kind draws its own figures (:meth:`grader.checks.base.CheckKind.figures`) with
the primitives here, from a check's recorded artifacts and details; the templates draw the
figure objects (results recorded before they named their kind are given one when they are
read, :func:`grader.results.CheckResult.from_dict`):

- ``numeric`` (filtering): the student's output beside the expected one and a
  heat-map of the absolute error (:class:`ImagePanels`);
- ``accuracy`` (matching): both images with the evaluated matches, correct
  ones green and wrong ones red (:class:`MatchPicture`, an inline SVG over a PNG);
- ``training``: the confusion matrix with per-class accuracy (:class:`ConfusionTable`)
  when ``details["confusion_matrix"]`` holds one;
- ``gradient``: the relative error of the forward value and of each gradient
  on a log scale, with the pass threshold (:class:`Chart`, matplotlib).

Hidden checks never show an expected output, nor which matches were right.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.figures.encode import (array_png, colormap_css, colormap_gradient_css, figure_png,
                                  new_figure)

HEAT_CMAP = "magma"
CONFUSION_CMAP = "Blues"
MAX_CLASSES = 60
_LOG_FLOOR = -17  # relative errors below 1e-17 (exact zeros among them) sit at the floor


@dataclass
class Panel:
    title: str
    uri: str
    legend: str = ""  # CSS gradient of a colour bar, for heat-maps
    low: str = ""
    high: str = ""


@dataclass
class ImagePanels:
    caption: str
    panels: list[Panel]
    kind: str = "images"


@dataclass
class MatchPicture:
    width: int
    height: int
    uri: str
    lines: list[tuple[float, float, float, float, str]]  # x1, y1, x2, y2, css class
    caption: str
    kind: str = "matches"


@dataclass
class ConfusionTable:
    labels: list[str]
    rows: list[list[tuple[int, str, str]]]  # count, background, text colour
    recall: list[str]
    caption: str
    kind: str = "confusion"


@dataclass
class Chart:
    uri: str
    alt: str
    caption: str
    kind: str = "chart"


class _Charts(threading.local):
    """Caches, one per thread (a web server renders pages in several): the matplotlib figure
    each chart is drawn on, reused (a new one costs more than the drawing), and the charts
    already drawn (many students repeat the same values), at most 4096."""

    def __init__(self) -> None:
        self.figure: Any = None
        self.drawn: dict[tuple, str] = {}


_CHARTS = _Charts()


# -- filtering: output, expected, error ----------------------------------------------


def _displayable(array: np.ndarray) -> tuple[np.ndarray, str]:
    """A 2-D grey or ``(h, w, 3)`` colour array, and a note when channels were dropped."""
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[2] not in (3, 4):
        return array[..., 0], f"channel 1 of {array.shape[2]} shown"
    if array.ndim == 3:
        array = array[..., :3]
    return array, ""


def image_panels(arrays: dict[str, np.ndarray], visible: bool, passed: bool) -> ImagePanels | None:
    output, note = _displayable(arrays["output"])
    if output.ndim not in (2, 3):
        return None
    label = str(arrays["label"]) if "label" in arrays else "output"
    expected = None
    if visible and "expected" in arrays:
        expected, _ = _displayable(arrays["expected"])
    shown = [output] + ([expected] if expected is not None else [])
    finite = np.concatenate([a[np.isfinite(a)].ravel() for a in shown])
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if low >= -0.01 and high <= 1.01:
        low, high = 0.0, 1.0
    notes = [note] if note else []
    if (low, high) != (0.0, 1.0):
        notes.append(f"values shown scaled from {low:.3g} (black) to {high:.3g} (white)")
    if not np.all(np.isfinite(output)):
        notes.append("NaN or infinity in your output shown as black")
    if passed or expected is None:
        panels = [Panel(f"your {label}", array_png(output, vmin=low, vmax=high))]
        if not visible:
            notes.append("hidden check: the expected output is not shown")
        return ImagePanels("; ".join(notes), panels)
    panels = [Panel(f"your {label}", array_png(output, vmin=low, vmax=high)),
              Panel(f"expected {label}", array_png(expected, vmin=low, vmax=high))]
    if output.shape == expected.shape:
        error = np.abs(output.astype(np.float64) - expected)
        if error.ndim == 3:
            error = error.max(axis=2)
        error = np.nan_to_num(error, nan=np.inf)
        top = float(error[np.isfinite(error)].max()) if np.isfinite(error).any() else 1.0
        scale = top if top > 0 else 1.0
        panels.append(Panel("absolute error", array_png(np.minimum(error, scale), HEAT_CMAP,
                                                        0.0, scale),
                            legend=colormap_gradient_css(HEAT_CMAP), low="0",
                            high=f"{top:.3g}"))
    else:
        notes.append(f"shapes differ (yours {output.shape[:2]}, expected "
                     f"{expected.shape[:2]} after thumbnailing): no error map")
    return ImagePanels("; ".join(notes), panels)


# -- matching: correct matches green, wrong ones red ---------------------------------


def _grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        image = image[..., :3].mean(axis=2) if image.shape[2] >= 3 else image[..., 0]
    finite = image[np.isfinite(image)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        image = (image - finite.min()) / ((finite.max() - finite.min()) or 1.0)
    return image


def match_picture(arrays: dict[str, np.ndarray], visible: bool) -> MatchPicture | None:
    image_a, image_b = _grey(arrays["image_a"]), _grey(arrays["image_b"])
    if image_a.ndim != 2 or image_b.ndim != 2:
        return None
    gap = 6
    height = max(image_a.shape[0], image_b.shape[0])
    width = image_a.shape[1] + gap + image_b.shape[1]
    canvas = np.ones((height, width), dtype=np.float32)
    canvas[:image_a.shape[0], :image_a.shape[1]] = image_a
    canvas[:image_b.shape[0], image_a.shape[1] + gap:] = image_b
    offset = image_a.shape[1] + gap
    points_a = np.asarray(arrays["points_a"], dtype=np.float64).reshape(-1, 2)
    points_b = np.asarray(arrays["points_b"], dtype=np.float64).reshape(-1, 2)
    count = min(len(points_a), len(points_b))
    correct = np.asarray(arrays["correct"], dtype=bool) if visible and "correct" in arrays else None
    ends = np.column_stack([points_a[:count], points_b[:count] + [offset, 0]]).round(2)
    kinds = (np.full(count, "unknown", dtype=object) if correct is None else
             np.where(np.resize(correct, count) if len(correct) else np.zeros(count, bool),
                      "right", "wrong").astype(object))
    if correct is not None and len(correct) < count:
        kinds[len(correct):] = "unknown"
    keep = np.isfinite(ends).all(axis=1)
    lines = [(*row, kind) for row, kind in zip(ends[keep].tolist(), kinds[keep].tolist())]
    lines.sort(key=lambda line: line[4] == "right")  # wrong ones first, correct ones on top
    if correct is None:
        caption = (f"the first {count} matches you returned (hidden check: which are correct "
                   "is not shown)")
    else:
        good = int(correct[:count].sum())
        caption = (f"the first {count} matches you returned: {good} correct (green), "
                   f"{count - good} wrong (red)")
    return MatchPicture(width, height, array_png(canvas), lines, caption)


# -- training: confusion matrix ------------------------------------------------------


def confusion_table(matrix: Any, names: Any) -> ConfusionTable | None:
    try:
        counts = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or not (
            0 < counts.shape[0] <= MAX_CLASSES) or not np.all(np.isfinite(counts)):
        return None
    size = counts.shape[0]
    labels = [str(n) for n in names] if isinstance(names, list) and len(names) == size else [
        str(i) for i in range(size)]
    totals = counts.sum(axis=1)
    rows = []
    for i in range(size):
        row = []
        for j in range(size):
            share = counts[i, j] / totals[i] if totals[i] else 0.0
            text = "white" if share > 0.55 else "#222"
            row.append((int(counts[i, j]), colormap_css(CONFUSION_CMAP, share), text))
        rows.append(row)
    recall = [f"{counts[i, i] / totals[i]:.0%}" if totals[i] else "–" for i in range(size)]
    caption = ("rows: true class, columns: your model's prediction; the shade is the share of "
               "each true class; the last column is the accuracy on that class")
    return ConfusionTable(labels, rows, recall, caption)


# -- gradients: relative error per tensor ----------------------------------------------


def gradient_chart(forward: Any, errors: dict[str, Any], threshold: float | None) -> Chart:
    """The chart of one gradient check; ``threshold`` is the pass bar its result recorded
    (``None`` for results recorded before they carried it: no line is drawn)."""
    names = ["forward"] + [str(name) for name in errors]
    values = [forward] + list(errors.values())
    numbers = [float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None
               for v in values]
    key = (tuple(names), tuple(None if v is None else float(f"{v:.3g}") for v in numbers),
           threshold)
    uri = _CHARTS.drawn.get(key)
    if uri is None:
        if len(_CHARTS.drawn) > 4096:
            _CHARTS.drawn.clear()
        uri = _CHARTS.drawn[key] = _draw_gradient_chart(names, numbers, threshold)
    described = ", ".join(f"{n} {'n/a' if v is None else f'{v:.2g}'}"
                          for n, v in zip(names, numbers))
    bar = f"{threshold:.0e}" if threshold is not None else "not recorded"
    line = (f"the dashed line is the pass threshold {bar}; " if threshold is not None else "")
    return Chart(uri, f"relative errors: {described}; threshold {bar}",
                 f"relative error per tensor (log scale); {line}a missing bar means the value "
                 "could not be compared")


def _draw_gradient_chart(names: list[str], values: list[float | None],
                         threshold: float | None) -> str:
    """Bars of ``log10`` relative errors on linear axes (a log axis costs twice the time).

    Exact zeros sit on the ``0`` tick at the bottom; a value that could not be
    compared (wrong shape, NaN) has no bar and reads ``n/a``.
    """
    if _CHARTS.figure is None:
        _CHARTS.figure = new_figure(3.6, 2.0)
        _CHARTS.figure.add_axes((0.17, 0.14, 0.8, 0.8))
    ax = _CHARTS.figure.axes[0]
    ax.cla()
    bottom = _LOG_FLOOR - 0.8
    tops = [None if v is None else max(_LOG_FLOOR, math.log10(v)) if v > 0 else _LOG_FLOOR
            for v in values]
    colours = ["#c62828" if v is None else "#607d8b" if threshold is None
               else "#2e7d32" if v <= threshold else "#c62828" for v in values]
    positions = list(range(len(names)))
    ax.bar(positions, [0.0 if t is None else t - bottom for t in tops], bottom=bottom,
           color=colours, width=0.6)
    for x, top in zip(positions, tops):
        if top is None:
            ax.text(x, bottom + 0.3, "n/a", ha="center", va="bottom", fontsize=7, color="#c62828")
    if threshold is not None:
        ax.axhline(math.log10(threshold), color="#222", linestyle="--", linewidth=1)
    ax.set_xticks(positions, names, fontsize=8)
    ax.set_ylim(bottom, 0.5)
    ticks = [_LOG_FLOOR] + list(range(-15, 1, 3))
    ax.set_yticks(ticks, ["0"] + [f"1e{t}" if t else "1" for t in ticks[1:]], fontsize=7)
    ax.tick_params(length=2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return figure_png(_CHARTS.figure, dpi=110)
