"""Small copies of arrays for the report's figures (kept beside a result, not in its JSON)."""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_SIDE = 160


def thumbnail(array: Any, max_side: int = MAX_SIDE) -> np.ndarray | None:
    """An ``(h, w)`` or ``(h, w, c)`` image array strided down to at most ``max_side`` pixels a
    side, as float32; ``None`` for anything that is not an image-shaped real array."""
    array = np.asarray(array)
    if array.ndim not in (2, 3) or array.dtype.kind not in "biuf" or min(array.shape[:2]) < 2:
        return None
    step = max(1, int(np.ceil(max(array.shape[:2]) / max_side)))
    return np.ascontiguousarray(array[::step, ::step], dtype=np.float32)


def image_artifacts(output: Any, expected: Any, label: str, visible: bool) -> dict[str, Any]:
    """``output`` (and, for visible checks only, ``expected``) as thumbnails, with their label."""
    shown = {"output": thumbnail(output)}
    if visible:
        shown["expected"] = thumbnail(expected)
    if any(v is None for v in shown.values()):
        return {}
    return {**shown, "label": np.array(label)}
