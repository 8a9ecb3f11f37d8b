"""Validation of what came back from the sandbox, before any comparison (trusted side)."""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_ELEMENTS = 50_000_000


def as_numeric_array(value: Any, expected: np.ndarray, label: str) -> tuple[np.ndarray | None, str, list[str]]:
    """Check ``value`` is a finite-able numeric array shaped like ``expected``.

    Returns ``(array, problem, notes)``: ``array`` is ``None`` when ``problem``
    says in one sentence why the value cannot be compared; ``notes`` lists
    harmless quirks that were normalised (e.g. a trailing axis of length 1).
    """
    notes: list[str] = []
    if value is None:
        return None, f"{label} is None (missing return statement?)", notes
    if isinstance(value, dict):
        return None, f"{label} is a {value.get('unsupported', 'object')}, not an array", notes
    if isinstance(value, str):
        return None, f"{label} is a string, not an array", notes
    array = np.asarray(value)
    if type(array) is not np.ndarray or array.dtype.kind not in "biuf":
        kind = "complex" if array.dtype.kind == "c" else str(array.dtype)
        return None, f"{label} has dtype {kind}, expected real numbers", notes
    if array.size > MAX_ELEMENTS:
        return None, f"{label} has {array.size} elements, far more than expected", notes
    if array.shape != expected.shape:
        if array.squeeze().shape == expected.squeeze().shape:
            notes.append(f"{label} has shape {array.shape}, accepted as {expected.shape}")
            array = array.reshape(expected.shape)
        else:
            return None, f"{label} has shape {array.shape}, expected {expected.shape}", notes
    return array, "", notes
