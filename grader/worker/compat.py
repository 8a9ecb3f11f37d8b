"""Compatibility shims for course code written against old libraries (applied only when the rubric asks).

numpy 2 removed aliases that 2018-era code calls (``np.float``, ``np.asscalar``,
…). Only names that are **missing** are defined: ``np.bool`` exists again in
numpy 2 and overwriting it would break numpy itself.
"""

from __future__ import annotations

import builtins

import numpy as np

_ALIASES = {
    "int": builtins.int,
    "float": builtins.float,
    "complex": builtins.complex,
    "object": builtins.object,
    "str": builtins.str,
    "unicode": builtins.str,
    "long": builtins.int,
    "asscalar": lambda a: np.asarray(a).item(),
    "alltrue": np.all,
    "sometrue": np.any,
    "product": np.prod,
    "cumproduct": np.cumprod,
    "float_": np.float64,
    "complex_": np.complex128,
    "NaN": np.nan,
    "Inf": np.inf,
    "PINF": np.inf,
    "NINF": -np.inf,
    "infty": np.inf,
    "round_": np.round,
    "in1d": np.isin,
    "trapz": getattr(np, "trapezoid", None),
    "msort": lambda a: np.sort(a, axis=0),
    "mat": np.asmatrix,
    "bool8": np.bool_,
    "int0": np.intp,
    "string_": np.bytes_,
    "unicode_": np.str_,
}

# what the trusted side's source scan reports (grader.intake.source_rules): one list for both sides
REMOVED_NUMPY_NAMES = frozenset(_ALIASES)


def restore_numpy_aliases() -> list[str]:
    """Define the removed numpy aliases that are missing; return the names defined."""
    restored = []
    for name, meaning in _ALIASES.items():
        if meaning is not None and name not in np.__dict__:
            setattr(np, name, meaning)
            restored.append(name)
    return restored
