"""Project 3: backpropagation through numpy layers — your code goes here.

Every ``*_forward`` returns ``(out, cache)``; every ``*_backward`` takes
``(dout, cache)``, where ``dout`` is the upstream gradient dL/dout (the shape
of ``out``), and returns the gradients of L with respect to the forward's
inputs, in the order of the forward's arguments. This is the CS231n
assignment 2 API. ``cache`` is yours: put in it whatever your backward needs.

The grader sends float64 arrays; keep computing in float64. It runs your
forward and backward, compares the forward value and each gradient with the
answer key, and also takes the numerical gradient of *your* forward, so a
backward that is right for a wrong forward still earns part of its points.
README.md gives the equations. Do not change the function names or arguments.
"""

from __future__ import annotations

import numpy as np


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Fully connected (affine) layer; each sample is flattened first.

    Parameters
    ----------
    x : (N, d1, ..., dk) ndarray
        N samples; sample n is flattened to a row of length D = d1 * ... * dk.
    w : (D, M) ndarray
        Weights.
    b : (M,) ndarray
        Biases.

    Returns
    -------
    out : (N, M) ndarray
        ``out[n] = x[n].reshape(D) @ w + b``.
    cache : tuple
        Whatever `affine_backward` needs.
    """
    raise NotImplementedError("`affine_forward` in `layers.py` needs to be implemented")


def affine_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of `affine_forward`.

    Parameters
    ----------
    dout : (N, M) ndarray
        Upstream gradient dL/dout.
    cache : tuple
        From `affine_forward`.

    Returns
    -------
    dx : ndarray, the shape of x (N, d1, ..., dk)
    dw : (D, M) ndarray
    db : (M,) ndarray
    """
    raise NotImplementedError("`affine_backward` in `layers.py` needs to be implemented")


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit, elementwise ``max(x, 0)``.

    Parameters
    ----------
    x : ndarray of any shape

    Returns
    -------
    out : ndarray, the shape of x
    cache : ndarray
        Whatever `relu_backward` needs (CS231n keeps `x`).
    """
    raise NotImplementedError("`relu_forward` in `layers.py` needs to be implemented")


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of `relu_forward`.

    Parameters
    ----------
    dout : ndarray, the shape of x
        Upstream gradient.
    cache : ndarray
        From `relu_forward`.

    Returns
    -------
    dx : ndarray, the shape of x
        Use the subgradient 0 at x == 0.
    """
    raise NotImplementedError("`relu_backward` in `layers.py` needs to be implemented")


def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                       conv_param: dict) -> tuple[np.ndarray, tuple]:
    """Convolutional layer: cross-correlation (no kernel flip) with zero padding.

    Parameters
    ----------
    x : (N, C, H, W) ndarray
        N images of C channels.
    w : (F, C, HH, WW) ndarray
        F filters of C channels each.
    b : (F,) ndarray
        One bias per filter.
    conv_param : dict
        ``'stride'`` s (pixels between neighbouring windows) and ``'pad'`` p
        (zeros added on every side of H and W).

    Returns
    -------
    out : (N, F, H', W') ndarray
        ``out[n, f, i, j] = b[f] + sum_{c,k,l} x_p[n, c, s*i + k, s*j + l] * w[f, c, k, l]``
        where x_p is x zero-padded by p, ``H' = 1 + (H + 2p - HH) / s`` and
        ``W' = 1 + (W + 2p - WW) / s`` (the grader only uses sizes that divide exactly).
    cache : tuple
        Whatever `conv_backward_naive` needs.
    """
    raise NotImplementedError("`conv_forward_naive` in `layers.py` needs to be implemented")


def conv_backward_naive(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of `conv_forward_naive`.

    Parameters
    ----------
    dout : (N, F, H', W') ndarray
        Upstream gradient.
    cache : tuple
        From `conv_forward_naive`.

    Returns
    -------
    dx : (N, C, H, W) ndarray
        The gradient of the *unpadded* input.
    dw : (F, C, HH, WW) ndarray
    db : (F,) ndarray
    """
    raise NotImplementedError("`conv_backward_naive` in `layers.py` needs to be implemented")


def max_pool_forward_naive(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, tuple]:
    """Max-pooling layer; windows may overlap.

    Parameters
    ----------
    x : (N, C, H, W) ndarray
    pool_param : dict
        ``'pool_height'`` PH, ``'pool_width'`` PW and ``'stride'`` s (no padding).

    Returns
    -------
    out : (N, C, H', W') ndarray
        ``out[n, c, i, j] = max_{k<PH, l<PW} x[n, c, s*i + k, s*j + l]`` with
        ``H' = 1 + (H - PH) / s`` and ``W' = 1 + (W - PW) / s``.
    cache : tuple
        Whatever `max_pool_backward_naive` needs.
    """
    raise NotImplementedError("`max_pool_forward_naive` in `layers.py` needs to be implemented")


def max_pool_backward_naive(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward pass of `max_pool_forward_naive`.

    Parameters
    ----------
    dout : (N, C, H', W') ndarray
        Upstream gradient.
    cache : tuple
        From `max_pool_forward_naive`.

    Returns
    -------
    dx : (N, C, H, W) ndarray
        On a tie within a window, the whole gradient of that window goes to
        its *first* maximum in row-major order (what ``np.argmax`` returns).
        Overlapping windows that share a maximum add up their gradients there.
    """
    raise NotImplementedError("`max_pool_backward_naive` in `layers.py` needs to be implemented")


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy loss, averaged over the batch, and its gradient.

    Parameters
    ----------
    x : (N, C) ndarray
        Class scores; may be large (hundreds), so compute the softmax stably.
    y : (N,) int ndarray
        Labels in ``[0, C)``.

    Returns
    -------
    loss : float
        ``-(1/N) sum_n log softmax(x[n])[y[n]]``.
    dx : (N, C) ndarray
        dloss/dx.
    """
    raise NotImplementedError("`softmax_loss` in `layers.py` needs to be implemented")
