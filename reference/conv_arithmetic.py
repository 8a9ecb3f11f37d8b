"""Convolution arithmetic from the course notes: output sizes, parameter counts, 1×1 convolutions.

For an input of width ``W``, a filter (or pooling window) of width ``F``,
zero padding ``P`` and stride ``S``, the output width is
``(W − F + 2P) / S + 1``; a configuration where that is not a whole number
does not tile the input and is an error. A convolution layer of ``K`` filters
of size ``F × F × C`` has ``F·F·C·K`` weights plus ``K`` biases: AlexNet's
conv1 (96 filters of 11 × 11 × 3, stride 4, on 227 × 227) gives 55 × 55
outputs and 34 944 parameters.

A 1 × 1 convolution is a fully connected layer applied at every pixel:
``out[n, k, i, j] = Σ_c w[k, c] · x[n, c, i, j] + b[k]``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["conv1x1_as_fc", "conv_output_size", "conv_parameters", "fc_parameters",
           "pool_output_size"]


def conv_output_size(input_size, filter_size, padding=0, stride=1):
    """Output width ``(W − F + 2P) / S + 1`` of a convolution, in pixels.

    Parameters
    ----------
    input_size, filter_size, padding, stride : int
        ``W``, ``F``, ``P`` and ``S`` in pixels.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``(W − F + 2P)`` is negative or not a multiple of ``S``.

    Examples
    --------
    AlexNet's conv1, and a 3 × 3 "same" convolution:

    >>> conv_output_size(227, 11, padding=0, stride=4)
    55
    >>> conv_output_size(64, 3, padding=1)
    64
    """
    span = input_size - filter_size + 2 * padding
    if stride < 1 or span < 0 or span % stride:
        raise ValueError(f"a {filter_size}-pixel filter with stride {stride} and padding {padding} "
                         f"does not tile a {input_size}-pixel input: ({input_size} - {filter_size} "
                         f"+ 2*{padding}) / {stride} + 1 is not a whole number")
    return span // stride + 1


def pool_output_size(input_size, pool_size, stride=None):
    """Output width of a pooling layer (no padding; ``stride`` defaults to ``pool_size``).

    Raises
    ------
    ValueError
        If the windows do not tile the input (see :func:`conv_output_size`).
    """
    return conv_output_size(input_size, pool_size, 0, pool_size if stride is None else stride)


def conv_parameters(filter_size, in_channels, num_filters, bias=True):
    """Learnable parameters of a conv layer: ``F·F·C·K`` weights (+ ``K`` biases).

    >>> conv_parameters(11, 3, 96)  # AlexNet's conv1
    34944
    """
    return filter_size * filter_size * in_channels * num_filters + (num_filters if bias else 0)


def fc_parameters(in_features, out_features, bias=True):
    """Learnable parameters of a fully connected layer: ``n_in·n_out`` weights (+ ``n_out`` biases)."""
    return in_features * out_features + (out_features if bias else 0)


def conv1x1_as_fc(x, w, b):
    """A 1 × 1 convolution computed as a fully connected layer applied at every pixel.

    Parameters
    ----------
    x : (N, C, H, W) ndarray
        Input feature maps.
    w : (K, C) ndarray
        Weights of the fully connected layer (the 1 × 1 kernels).
    b : (K,) ndarray
        Biases.

    Returns
    -------
    (N, K, H, W) ndarray
        ``out[n, k, i, j] = Σ_c w[k, c] x[n, c, i, j] + b[k]``.

    Examples
    --------
    >>> x = np.arange(8.0).reshape(1, 2, 2, 2)
    >>> conv1x1_as_fc(x, np.array([[1.0, 1.0]]), np.array([0.5]))[0, 0]
    array([[ 4.5,  6.5],
           [ 8.5, 10.5]])
    """
    n, c, h, width = x.shape
    pixels = x.transpose(0, 2, 3, 1).reshape(-1, c)  # one row per pixel
    out = pixels @ w.T + b
    return out.reshape(n, h, width, -1).transpose(0, 3, 1, 2)
