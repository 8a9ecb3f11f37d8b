"""Layers for the backprop assignment, following the CS231n layer API in numpy.

Every ``*_forward`` returns ``(out, cache)`` and every ``*_backward`` takes
``(dout, cache)``, so code written for the public CS231n assignment 2 [1]_ runs
unchanged. The caches hold what CS231n's hold (``x``, ``(x, w, b)``,
``(x, w, b, conv_param)``, ``(x, pool_param)``), so a reference cache can also be
handed to a student's backward. Convolution is cross-correlation (no kernel
flip) with zero padding, as in CS231n and ``torch.nn.functional.conv2d``.
Despite the ``_naive`` names everything is vectorised: im2col is a strided view,
col2im loops over the HH x WW kernel offsets only. `max_unpool` and
`conv_transpose` are the two operations a deconvnet [2]_ uses to project an
activation back to pixel space. Check gradients in float64.

References
----------
.. [1] F.-F. Li, J. Johnson, S. Yeung et al., "CS231n: Convolutional Neural Networks
   for Visual Recognition", Stanford University, assignment 2 and the notes
   https://cs231n.github.io/optimization-2/, https://cs231n.github.io/convolutional-networks/.
.. [2] M. D. Zeiler and R. Fergus, "Visualizing and Understanding Convolutional
   Networks", ECCV 2014, LNCS 8689, pp. 818-833, :DOI:`10.1007/978-3-319-10590-1_53`.
.. [3] V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep
   learning", arXiv:1603.07285, 2016.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive",
    "max_pool_backward_naive", "max_pool_switches", "max_unpool",
    "conv_transpose", "softmax_loss",
]


def _require(ok: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless `ok`; the one validation helper."""
    if not ok:
        raise ValueError(message)


def _out_shape(x_shape: tuple, kernel: tuple, stride: int, pad: int) -> tuple:
    """Return ``(H', W')`` with ``H' = 1 + (H + 2 pad - HH) / stride``, or raise."""
    _require(len(x_shape) == 4, f"x must be 4-D (N, C, H, W), got shape {x_shape}.")
    sizes = []
    for axis, size, k in zip(("height", "width"), x_shape[2:], kernel):
        span = size + 2 * pad - k
        _require(stride >= 1 and span >= 0 and span % stride == 0,
                 f"Output {axis} 1 + ({size} + 2*{pad} - {k}) / {stride} is not a "
                 "positive integer, so this kernel, stride and pad do not tile the input.")
        sizes.append(1 + span // stride)
    return tuple(sizes)


def _windows(x: np.ndarray, kernel: tuple, stride: int, pad: int = 0) -> np.ndarray:
    """Zero-pad (N, C, H, W) by `pad`, view as (N, C, H', W', HH, WW) windows (im2col)."""
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    return sliding_window_view(padded, kernel, axis=(2, 3))[:, :, ::stride, ::stride]


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Fully connected layer ``out = x W + b``, each sample flattened first.

    Parameters
    ----------
    x : (N, d1, ..., dk) ndarray
        Inputs; sample ``n`` is flattened to a row of length D = d1 * ... * dk.
    w : (D, M) ndarray
    b : (M,) ndarray

    Returns
    -------
    out : (N, M) ndarray
    cache : tuple
        ``(x, w, b)``.

    Examples
    --------
    >>> out, _ = affine_forward(np.ones((2, 3, 4)), np.ones((12, 5)), np.arange(5.0))
    >>> out[0]
    array([12., 13., 14., 15., 16.])
    """
    _require(x.ndim >= 1 and w.ndim == 2 and np.prod(x.shape[1:]) == w.shape[0],
             f"x of shape {x.shape} does not flatten to rows of length D = w.shape[0].")
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)


def affine_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of `affine_forward`.

    Parameters
    ----------
    dout : (N, M) ndarray
        Upstream gradient dL/dout.
    cache : tuple
        ``(x, w, b)`` from `affine_forward`.

    Returns
    -------
    dx : ndarray, shape of x
    dw : (D, M) ndarray
    db : (M,) ndarray

    Notes
    -----
    With X the (N, D) flattened input: ``dL/dX = dout W^T`` (reshaped to x's
    shape), ``dL/dW = X^T dout`` and ``dL/db = sum_n dout[n]``.
    """
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    return dx, dw, dout.sum(axis=0)


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit ``out = max(x, 0)``; the cache is `x` itself.

    Parameters
    ----------
    x : ndarray of any shape

    Returns
    -------
    out : ndarray, shape of x
    cache : ndarray
    """
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of `relu_forward`: ``dx = dout * [x > 0]``.

    Parameters
    ----------
    dout : ndarray, shape of x
    cache : ndarray
        The input `x` of `relu_forward`.

    Returns
    -------
    dx : ndarray, shape of x

    Notes
    -----
    At the kink ``x = 0`` the subgradient 0 is used (as in PyTorch), so a
    numerical gradient taken at exactly 0 will not agree; check away from it.
    """
    return dout * (cache > 0)


def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                       conv_param: dict) -> tuple[np.ndarray, tuple]:
    """Convolutional layer (cross-correlation with zero padding), vectorised.

    Parameters
    ----------
    x : (N, C, H, W) ndarray
    w : (F, C, HH, WW) ndarray
        F filters of C channels each.
    b : (F,) ndarray
    conv_param : dict
        ``'stride'`` s and ``'pad'`` p (zeros added on every side of H and W).

    Returns
    -------
    out : (N, F, H', W') ndarray
        ``out[n, f, i, j] = b[f] + sum_{c,k,l} x_p[n, c, s i + k, s j + l] w[f, c, k, l]``
        with ``H' = 1 + (H + 2p - HH) / s`` and ``W' = 1 + (W + 2p - WW) / s``.
    cache : tuple
        ``(x, w, b, conv_param)``.

    Raises
    ------
    ValueError
        If H' or W' is not a positive integer, or the shapes disagree.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> out, _ = conv_forward_naive(x, np.ones((1, 1, 2, 2)), np.zeros(1),
    ...                             {'stride': 2, 'pad': 0})
    >>> out[0, 0]
    array([[10., 18.],
           [42., 50.]])
    """
    stride, pad = conv_param["stride"], conv_param["pad"]
    _require(w.ndim == 4 and x.ndim == 4 and w.shape[1] == x.shape[1] and b.shape == w.shape[:1],
             f"Shapes x {x.shape}, w {w.shape}, b {b.shape} do not match "
             "(N, C, H, W), (F, C, HH, WW), (F,).")
    _out_shape(x.shape, w.shape[2:], stride, pad)
    cols = _windows(x, w.shape[2:], stride, pad)
    out = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out + b[:, None, None]), (x, w, b, conv_param)


def conv_backward_naive(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of `conv_forward_naive`.

    Parameters
    ----------
    dout : (N, F, H', W') ndarray
        Upstream gradient dL/dout.
    cache : tuple
        ``(x, w, b, conv_param)`` from `conv_forward_naive`.

    Returns
    -------
    dx : (N, C, H, W) ndarray
    dw : (F, C, HH, WW) ndarray
    db : (F,) ndarray

    Notes
    -----
    ``db[f] = sum_{n,i,j} dout[n, f, i, j]``. For stride 1, with ``*`` true
    (flipping) convolution and ``(x)`` cross-correlation:

    - ``dx_p[n, c] = sum_f dout[n, f] * w[f, c]`` in 'full' mode, i.e. the full
      correlation of dout with the kernel flipped by 180 degrees; dx is dx_p
      with the p-pixel border cropped.
    - ``dw[f, c] = sum_n x_p[n, c] (x) dout[n, f]`` in 'valid' mode: the
      correlation of the padded input with dout.

    For stride s the same holds with dout dilated by s (s - 1 zeros between
    samples). dx is computed as ``conv_transpose(dout, w, conv_param)``.
    """
    x, w, _, conv_param = cache
    cols = _windows(x, w.shape[2:], conv_param["stride"], conv_param["pad"])
    dx = conv_transpose(dout, w, conv_param)
    dw = np.tensordot(dout, cols, axes=([0, 2, 3], [0, 2, 3]))
    return dx, dw, dout.sum(axis=(0, 2, 3))


def conv_transpose(x: np.ndarray, w: np.ndarray, conv_param: dict) -> np.ndarray:
    """Transposed convolution: the adjoint of `conv_forward_naive` without bias.

    For all x and y of matching shapes, ``<conv(x), y> = <x, conv_transpose(y)>``
    where ``conv(x) = conv_forward_naive(x, w, 0, conv_param)[0]``. This is the
    "deconvolution" a deconvnet [2]_ uses to map a feature map back towards
    pixels (with the forward filters, not their inverse), and equals
    ``torch.nn.functional.conv_transpose2d(x, w, stride=s, padding=p)`` [3]_:
    pixel (i, j) scatters ``x[n, f, i, j] w[f]`` onto the padded output at
    ``(s i, s j)`` (col2im), then the p-pixel border is cropped.

    Parameters
    ----------
    x : (N, F, H', W') ndarray
        A feature map in the layer's output space.
    w : (F, C, HH, WW) ndarray
        The forward convolution's filters.
    conv_param : dict
        ``'stride'`` s and ``'pad'`` p of the forward convolution.

    Returns
    -------
    out : (N, C, H, W) ndarray
        ``H = (H' - 1) s + HH - 2p`` and ``W = (W' - 1) s + WW - 2p``.

    Raises
    ------
    ValueError
        If the shapes disagree or H or W would not be positive.
    """
    stride, pad = conv_param["stride"], conv_param["pad"]
    _require(x.ndim == 4 and w.ndim == 4 and x.shape[1] == w.shape[0],
             f"Shapes x {x.shape} and w {w.shape} are not (N, F, H', W') and (F, C, HH, WW).")
    (n, _, h_out, w_out), (_, c, hh, ww) = x.shape, w.shape
    height, width = (h_out - 1) * stride + hh, (w_out - 1) * stride + ww
    _require(height > 2 * pad and width > 2 * pad,
             f"Transposed output (H' - 1) s + HH - 2p = {height - 2 * pad} is not positive.")
    cols = np.tensordot(x, w, axes=([1], [0])).transpose(0, 3, 1, 2, 4, 5)
    out = np.zeros((n, c, height, width), dtype=cols.dtype)
    for k in range(hh):
        for m in range(ww):
            out[:, :, k:k + stride * h_out:stride, m:m + stride * w_out:stride] += cols[..., k, m]
    return out[:, :, pad:height - pad, pad:width - pad]


def max_pool_switches(x: np.ndarray, pool_param: dict) -> np.ndarray:
    """Locations of the maxima of each pooling window (the "switches" of [2]_).

    Parameters
    ----------
    x : (N, C, H, W) ndarray
    pool_param : dict
        ``'pool_height'`` PH, ``'pool_width'`` PW and ``'stride'`` s; windows may
        overlap (s < PH or s < PW).

    Returns
    -------
    switches : (N, C, H', W') int ndarray
        Flat index ``r * W + c`` into x's H x W plane of the maximum of window
        (i, j), with ``H' = 1 + (H - PH) / s``, ``W' = 1 + (W - PW) / s``: the
        convention of ``torch.nn.functional.max_pool2d(return_indices=True)``.
        Ties go to the first maximum in row-major order within the window, as
        ``np.argmax``.

    Raises
    ------
    ValueError
        If H' or W' is not a positive integer.

    Examples
    --------
    >>> x = np.array([[[[1., 3., 0., 0.], [3., 0., 0., 0.]]]])
    >>> max_pool_switches(x, {'pool_height': 2, 'pool_width': 2, 'stride': 2})
    array([[[[1, 2]]]])
    """
    kernel, stride = (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"]
    h_out, w_out = _out_shape(x.shape, kernel, stride, 0)
    within = _windows(x, kernel, stride).reshape(*x.shape[:2], h_out, w_out, -1).argmax(axis=-1)
    rows = np.arange(h_out)[:, None] * stride + within // kernel[1]
    cols = np.arange(w_out) * stride + within % kernel[1]
    return rows * x.shape[3] + cols


def max_unpool(y: np.ndarray, switches: np.ndarray, output_size: tuple) -> np.ndarray:
    """Place each pooled value back at the location of its window's maximum [2]_.

    Parameters
    ----------
    y : (N, C, H', W') ndarray
        Values in the pooled space (activations or gradients).
    switches : (N, C, H', W') int ndarray
        From `max_pool_switches`.
    output_size : (H, W) tuple of int
        Spatial size of the unpooled map (the pooling input's).

    Returns
    -------
    out : (N, C, H, W) ndarray
        Zero except at the switch locations. Where overlapping windows share a
        maximum, their values are summed, so ``max_unpool`` is exactly the
        backward pass of max-pooling with fixed switches (PyTorch's
        ``max_unpool2d`` keeps only one of them instead).
    """
    _require(y.ndim == 4 and switches.shape == y.shape,
             f"y {y.shape} and switches {switches.shape} must have the same 4-D shape.")
    n, c = y.shape[:2]
    plane = int(np.prod(output_size))
    _require(switches.size == 0 or 0 <= switches.min() and switches.max() < plane,
             f"switches must index an output plane of size {tuple(output_size)}.")
    out = np.zeros(n * c * plane, dtype=y.dtype)
    offsets = np.arange(n * c).reshape(n, c, 1, 1) * plane
    np.add.at(out, (offsets + switches).ravel(), y.ravel())
    return out.reshape(n, c, *output_size)


def max_pool_forward_naive(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, tuple]:
    """Max-pooling layer, vectorised.

    Parameters
    ----------
    x : (N, C, H, W) ndarray
    pool_param : dict
        ``'pool_height'``, ``'pool_width'`` and ``'stride'``; see `max_pool_switches`.

    Returns
    -------
    out : (N, C, H', W') ndarray
        Maximum of each window.
    cache : tuple
        ``(x, pool_param)``; the backward recomputes the switches from it.
    """
    switches = max_pool_switches(x, pool_param)
    n, c, h, w = x.shape
    flat = np.take_along_axis(x.reshape(n, c, h * w), switches.reshape(n, c, -1), axis=2)
    return flat.reshape(switches.shape), (x, pool_param)


def max_pool_backward_naive(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward pass of `max_pool_forward_naive`.

    Parameters
    ----------
    dout : (N, C, H', W') ndarray
    cache : tuple
        ``(x, pool_param)`` from `max_pool_forward_naive`.

    Returns
    -------
    dx : (N, C, H, W) ndarray
        ``dx = max_unpool(dout, switches)``: each window's gradient goes to its
        argmax only (first maximum on ties) and accumulates where overlapping
        windows share it, so ``dx.sum() == dout.sum()``.
    """
    x, pool_param = cache
    return max_unpool(dout, max_pool_switches(x, pool_param), x.shape[2:])


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy loss, averaged over the batch, and its gradient.

    Parameters
    ----------
    x : (N, C) ndarray
        Class scores.
    y : (N,) int ndarray
        Labels in ``[0, C)``.

    Returns
    -------
    loss : float
        ``-(1/N) sum_n log softmax(x[n])[y[n]]``, computed stably by shifting
        each row by its maximum (log-sum-exp).
    dx : (N, C) ndarray
        ``(softmax(x) - onehot(y)) / N``.
    """
    y = np.asarray(y)
    n = x.shape[0]
    _require(x.ndim == 2 and y.shape == (n,) and np.issubdtype(y.dtype, np.integer)
             and bool(np.all((0 <= y) & (y < x.shape[1]))),
             f"y must be an (N,) = ({n},) int array of labels in [0, C).")
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    return float(-log_probs[rows, y].mean()), dx / n
