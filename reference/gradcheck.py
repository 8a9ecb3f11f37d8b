"""Numerical gradients by central differences, with CS231n's semantics.

The functions match ``cs231n/gradient_check.py`` of the public CS231n
assignments [1]_ in name, arguments and behaviour: `x` is perturbed *in place*,
one element at a time, and restored afterwards, so ``f`` may ignore its
argument and read `x` through a closure. Use float64; with ``h = 1e-5`` the
truncation error is O(h^2) and the rounding error O(eps / h), about 1e-10 each.

References
----------
.. [1] F.-F. Li, J. Johnson, S. Yeung et al., "CS231n: Convolutional Neural
   Networks for Visual Recognition", Stanford University,
   https://cs231n.github.io/optimization-1/#numerical.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"]


def _central_difference(f: Callable[[np.ndarray], Any], x: np.ndarray, h: float,
                        reduce: Callable[[Any, Any], float]) -> np.ndarray:
    """Return ``reduce(f(x + h e_i), f(x - h e_i)) / (2 h)`` for every index i of `x`.

    `x` is modified in place during the call and always restored, even if `f` raises.
    """
    grad = np.zeros_like(x, dtype=float)
    for index in np.ndindex(x.shape):
        old = x[index]
        try:
            x[index] = old + h
            plus = np.array(f(x), dtype=float, copy=True)
            x[index] = old - h
            minus = np.array(f(x), dtype=float, copy=True)
        finally:
            x[index] = old
        grad[index] = reduce(plus, minus) / (2 * h)
    return grad


def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                            verbose: bool = False, h: float = 1e-5) -> np.ndarray:
    """Numerical gradient of a scalar function at `x`.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray of any shape, float
        The point; perturbed in place and restored.
    verbose : bool, optional
        Print each index and its gradient, as CS231n's version does (there the
        default is True).
    h : float, optional
        Step of the central difference.

    Returns
    -------
    grad : ndarray, shape of x
        ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)``.

    Examples
    --------
    >>> x = np.array([1.0, -2.0])
    >>> np.round(eval_numerical_gradient(lambda z: np.sum(z ** 2), x), 6)
    array([ 2., -4.])
    """
    grad = _central_difference(f, x, h, lambda plus, minus: float(plus - minus))
    if verbose:
        for index in np.ndindex(x.shape):
            print(index, grad[index])
    return grad


def eval_numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                                  df: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Numerical gradient of ``sum(f(x) * df)`` at `x`, for array-valued `f`.

    This is the vector-Jacobian product ``J_f(x)^T df`` a layer's backward pass
    computes when `df` is the upstream gradient.

    Parameters
    ----------
    f : callable
        ``f(x) -> ndarray`` of the shape of `df`.
    x : ndarray of any shape, float
        The point; perturbed in place and restored.
    df : ndarray
        Upstream gradient, shape of ``f(x)``.
    h : float, optional
        Step of the central difference.

    Returns
    -------
    grad : ndarray, shape of x
        ``grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * df) / (2 h)``.
    """
    return _central_difference(f, x, h, lambda plus, minus: float(np.sum((plus - minus) * df)))


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """Largest elementwise relative error ``max |x - y| / max(1e-8, |x| + |y|)``.

    Parameters
    ----------
    x, y : ndarray
        Arrays of broadcastable shapes.

    Returns
    -------
    error : float
        0 for identical arrays; the 1e-8 floor keeps exact zeros from dividing by 0.

    Examples
    --------
    >>> rel_error(np.array([1.0, 0.0]), np.array([3.0, 0.0]))
    0.5
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
