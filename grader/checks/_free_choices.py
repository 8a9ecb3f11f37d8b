"""Answers the course leaves free, accepted by membership in the set of valid ones.

Where the course does not fix a choice, a check must not grade one reference's choice as the
only answer. Each function here decides whether a student's output is *one of the valid
answers*, given the case's inputs, instead of comparing it with the reference's.

- ``max_pool_ties`` — the gradient of max pooling where a window's maximum is tied. CS231n's
  ``max_pool_backward_naive`` asks to route ``dout`` "to the max"; which of several equal
  maxima gets it (or how it is split among them) is not specified, and every choice is a
  valid subgradient. The valid ``dx`` are exactly
  ``sum over windows w of dout[w] * p_w``, each ``p_w`` a probability vector over the
  positions where window ``w`` reaches its maximum; membership is a small linear program.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

MAX_TIED_WINDOWS = 4096  # windows with tied maxima one case may have (the LP's size)
Chooser = Callable[[Mapping[str, Any], np.ndarray, np.ndarray], bool]


def max_pool_ties(args: Mapping[str, Any], dout: np.ndarray, dx: np.ndarray) -> bool:
    """Whether ``dx`` routes ``dout`` to maxima of their windows, ties split in any way.

    ``args`` are the forward's: ``x`` of shape ``(N, C, H, W)`` and ``pool_param`` with
    ``pool_height``, ``pool_width`` and ``stride``; ``dout`` has the pooled shape.
    """
    x = np.asarray(args["x"], dtype=np.float64)
    dx = np.asarray(dx, dtype=np.float64)
    if dx.shape != x.shape:
        return False
    fixed, tied = _routes(x, np.asarray(dout, dtype=np.float64), args["pool_param"])
    rest = (dx - fixed).ravel()
    tolerance = 1e-6 * max(1.0, float(np.max(np.abs(dout))) if np.size(dout) else 1.0)
    if not tied:
        return float(np.max(np.abs(rest), initial=0.0)) <= tolerance
    if len(tied) > MAX_TIED_WINDOWS:
        return False
    return _split_reaches(rest, tied, tolerance)


def _routes(x: np.ndarray, dout: np.ndarray, pool: Mapping[str, Any]):
    """The gradient of the windows with one maximum (fixed), and for each window with tied
    maxima ``(its dout, the flat positions of its maxima)``."""
    height, width, stride = (int(pool[k]) for k in ("pool_height", "pool_width", "stride"))
    fixed = np.zeros_like(x)
    tied: list[tuple[float, np.ndarray]] = []
    flat_index = np.arange(x.size).reshape(x.shape)
    for n, c, i, j in np.ndindex(*dout.shape):
        rows = slice(i * stride, i * stride + height)
        cols = slice(j * stride, j * stride + width)
        window = x[n, c, rows, cols]
        at = np.flatnonzero(window == window.max())
        positions = flat_index[n, c, rows, cols].ravel()[at]
        if len(positions) == 1:
            fixed.ravel()[positions[0]] += dout[n, c, i, j]
        else:
            tied.append((float(dout[n, c, i, j]), positions))
    return fixed, tied


def _split_reaches(rest: np.ndarray, tied: list[tuple[float, np.ndarray]],
                   tolerance: float) -> bool:
    """Whether some split ``p_w`` (nonnegative, summing to 1 per window) makes
    ``sum_w dout_w p_w`` equal ``rest`` within ``tolerance``: minimise the L1 residual.
    (scipy is imported here: a student kit installs numpy, not scipy, and checks only this.)"""
    from scipy.optimize import linprog

    columns = sum(len(positions) for _, positions in tied)
    size = rest.size
    # variables: the splits p (columns), then the residual's positive and negative parts
    routing = np.zeros((size, columns))
    sums = np.zeros((len(tied), columns))
    column = 0
    for window, (gradient, positions) in enumerate(tied):
        for position in positions:
            routing[position, column] = gradient
            sums[window, column] = 1.0
            column += 1
    equality = np.block([[routing, np.eye(size), -np.eye(size)],
                         [sums, np.zeros((len(tied), 2 * size))]])
    target = np.concatenate([rest, np.ones(len(tied))])
    cost = np.concatenate([np.zeros(columns), np.ones(2 * size)])
    solved = linprog(cost, A_eq=equality, b_eq=target, bounds=(0, None), method="highs")
    if not solved.success:
        return False
    residual = solved.x[columns:columns + size] - solved.x[columns + size:]
    return float(np.max(np.abs(residual))) <= tolerance


CHOOSERS: dict[str, Chooser] = {"max_pool_ties": max_pool_ties}
