"""Seeded random and literal arrays: noise, normal samples, integers, ramps, literals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from grader.inputs.registry import Value, generator


@generator("random")
def random(shape: Sequence[int], seed: int, low: float = 0.0, high: float = 1.0,
           dtype: str = "float32") -> np.ndarray:
    """Uniform noise in ``[low, high)`` of ``shape``, from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=tuple(shape)).astype(dtype)


@generator("normal")
def normal(shape: Sequence[int], seed: int, scale: float = 1.0, offset: float = 0.0,
           dtype: str = "float64") -> np.ndarray:
    """``offset`` plus standard normal samples times ``scale``, from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return (offset + scale * rng.standard_normal(size=tuple(shape))).astype(dtype)


@generator("integers")
def integers(shape: Sequence[int], seed: int, high: int, low: int = 0,
             dtype: str = "int64") -> np.ndarray:
    """Integers in ``[low, high)`` from ``default_rng(seed)``: class labels, or (as floats)
    arrays full of ties, e.g. for max-pooling."""
    return np.random.default_rng(seed).integers(low, high, size=tuple(shape)).astype(dtype)


@generator("ramp")
def ramp(shape: Sequence[int], scale: float = 1.0, dtype: str = "float32") -> np.ndarray:
    """``arange(prod(shape)).reshape(shape) * scale`` — the course unit tests' ramp images."""
    return (np.arange(int(np.prod(shape)), dtype=np.float64).reshape(tuple(shape)) * scale).astype(dtype)


@generator("value", literal=True)
def value(data: Any, dtype: str | None = None) -> Value:
    """A literal: a scalar, a string, or a nested list turned into an array.

    In a rubric the parameters are the literal itself: ``feature_width: {value: 16}``.
    """
    if isinstance(data, (list, tuple)):
        return np.asarray(data, dtype=dtype)
    return data
