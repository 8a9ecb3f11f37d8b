"""Transforms applied to one argument to compute a *diagnosis*: the expected output of a
classic mistake (e.g. a flipped kernel), kept to recognise it in a wrong answer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "flip": lambda a: np.ascontiguousarray(np.asarray(a)[::-1, ::-1]),
    "transpose": lambda a: np.ascontiguousarray(np.asarray(a).T),
    "rot180": lambda a: np.ascontiguousarray(np.asarray(a)[..., ::-1, ::-1]),  # flip last two axes
}
