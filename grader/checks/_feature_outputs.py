"""Project 2 student outputs, read as leniently as the course notebook reads them (trusted side).

Real submissions bend the F18 API: ``get_interest_points`` returns 2 or 3
values instead of 5, descriptors come as ``(k, 1, 128)``, ``x``/``y`` as
``(N, 1)`` columns, match indices as integral floats. Each reader turns such
an obvious variant into the canonical form and says what it did in a *note*
(shown to the student); anything it cannot read raises :class:`OutputProblem`
with one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checks._validate import MAX_ELEMENTS


class OutputProblem(ValueError):
    """A returned value that cannot be read, explained in one sentence."""


@dataclass
class InterestPoints:
    """Keypoints as returned: ``x`` = column, ``y`` = row, optional per-point confidences."""

    x: np.ndarray
    y: np.ndarray
    confidences: np.ndarray | None
    notes: list[str] = field(default_factory=list)

    def ranked(self) -> tuple[np.ndarray, np.ndarray, str]:
        """``x, y`` strongest first (by confidences when given, else as returned) and how."""
        if self.confidences is None:
            return self.x, self.y, "in the order returned (no confidences)"
        order = np.argsort(-self.confidences, kind="stable")
        return self.x[order], self.y[order], "by decreasing confidence"


@dataclass
class Matches:
    """``matches`` (K, 2) int64 as returned (same order) and optional confidences (K,)."""

    pairs: np.ndarray
    confidences: np.ndarray | None
    notes: list[str] = field(default_factory=list)


def real_array(value: Any, label: str) -> np.ndarray:
    """``value`` as a real numeric ndarray, or :class:`OutputProblem`."""
    if value is None:
        raise OutputProblem(f"{label} is None (missing return statement?)")
    if isinstance(value, (dict, str)):
        what = value.get("unsupported", "object") if isinstance(value, dict) else "string"
        raise OutputProblem(f"{label} is a {what}, not an array")
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise OutputProblem(f"{label} has dtype {array.dtype}, expected real numbers")
    if array.size > MAX_ELEMENTS:
        raise OutputProblem(f"{label} has {array.size} elements, far more than expected")
    return array


def vector(value: Any, label: str, notes: list[str]) -> np.ndarray:
    """A 1-D array; ``(N, 1)`` and ``(1, N)`` are accepted with a note."""
    array = real_array(value, label)
    if array.ndim != 1:
        if array.ndim == 0 or sum(s != 1 for s in array.shape) > 1:
            raise OutputProblem(f"{label} has shape {array.shape}, expected a 1-D (N,) array")
        notes.append(f"{label} has shape {array.shape}, read as ({array.size},)")
        array = array.reshape(-1)
    return array


def interest_points(outputs: list[Any], returned_tuple: bool) -> InterestPoints:
    """Read ``get_interest_points``' return value: ``x, y`` first, confidences third if usable.

    Parameters
    ----------
    outputs : list
        The returned values (a tuple unpacked); ``returned_tuple`` says if it was one.
    """
    if not returned_tuple or len(outputs) < 2:
        raise OutputProblem("get_interest_points must return at least (x, y); the course "
                            "returns (x, y, confidences, scales, orientations)")
    notes: list[str] = []
    if len(outputs) != 5:
        notes.append(f"get_interest_points returned {len(outputs)} values; the course notebook "
                     "unpacks five (x, y, confidences, scales, orientations), so it would "
                     "have failed there; graded with the first two as x, y")
    x, y = vector(outputs[0], "x", notes), vector(outputs[1], "y", notes)
    if x.shape != y.shape:
        raise OutputProblem(f"x and y have different lengths ({x.size} and {y.size})")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise OutputProblem("x or y contains NaN or infinity")
    confidences = None
    if len(outputs) > 2 and outputs[2] is not None:
        try:
            candidate = vector(outputs[2], "confidences", [])
        except OutputProblem:
            candidate = None
        if candidate is not None and candidate.shape == x.shape and np.all(np.isfinite(candidate)):
            confidences = candidate.astype(np.float64)
    return InterestPoints(x.astype(np.float64), y.astype(np.float64), confidences, notes)


def descriptors(value: Any, count: int | None = None) -> tuple[np.ndarray, list[str]]:
    """A ``(k, D)`` float64 descriptor matrix; ``(k, 1, D)`` / ``(k, D, 1)`` accepted with a note."""
    notes: list[str] = []
    array = real_array(value, "features")
    if array.ndim == 3 and 1 in array.shape[1:]:
        notes.append(f"features have shape {array.shape}, read as "
                     f"({array.shape[0]}, {array.size // max(array.shape[0], 1)})")
        array = array.reshape(array.shape[0], -1)
    if array.ndim != 2:
        raise OutputProblem(f"features have shape {array.shape}, expected (k, 128): "
                            "one row per keypoint")
    if count is not None and array.shape[0] != count:
        transposed = " (transposed?)" if array.shape[1] == count else ""
        raise OutputProblem(f"features have shape {array.shape}, expected {count} rows, "
                            f"one per keypoint{transposed}")
    if not np.all(np.isfinite(array)):
        row = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise OutputProblem(f"features contain NaN or infinity (first in row {row}; "
                            "dividing by a zero norm?)")
    return array.astype(np.float64), notes


def matches(pairs: Any, confidences: Any, n1: int, n2: int) -> Matches:
    """Read ``match_features``' ``(matches, confidences)`` for ``n1`` and ``n2`` keypoints.

    ``matches`` keeps the student's row order (the course evaluates it as
    returned). Integral float indices are accepted with a note; confidences
    that do not give one finite number per match are ignored with a note.
    """
    notes: list[str] = []
    array = real_array(pairs, "matches")
    if array.size == 0:
        array = array.reshape(0, 2)
    if array.ndim == 3 and array.shape[1] == 1:
        notes.append(f"matches have shape {array.shape}, read as ({array.shape[0]}, 2)")
        array = array.reshape(array.shape[0], -1)
    if array.ndim != 2 or array.shape[1] != 2:
        raise OutputProblem(f"matches have shape {array.shape}, expected (k, 2)")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise OutputProblem("matches hold non-integer values; they must be indices")
        notes.append("matches are floats; the course notebook indexes with them, which needs "
                     "integers: read as int")
    array = array.astype(np.int64)
    for column, count, image in ((0, n1, "A"), (1, n2, "B")):
        bad = (array[:, column] < 0) | (array[:, column] >= count)
        if bad.any():
            raise OutputProblem(f"matches[:, {column}] holds {int(array[bad.argmax(), column])}, "
                                f"not an index of the {count} keypoints of image {image}")
    return Matches(array, _match_confidences(confidences, len(array), notes), notes)


def _match_confidences(value: Any, count: int, notes: list[str]) -> np.ndarray | None:
    if value is None:
        return None
    try:
        confidences = vector(value, "confidences", notes) if np.ndim(value) else None
    except OutputProblem as exc:
        notes.append(f"{exc}; confidences ignored")
        return None
    if confidences is None or confidences.size != count or not np.all(np.isfinite(confidences)):
        notes.append(f"confidences do not give one finite number per match ({count}); ignored")
        return None
    return confidences.astype(np.float64)
