"""Convolution arithmetic (course notes): output sizes, parameter counts, 1x1 convolutions.

Implement each function; ``grader check`` tells you which are right.
"""

import numpy as np


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
    """
    raise NotImplementedError("conv1x1_as_fc: implement me")


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
    """
    raise NotImplementedError("conv_output_size: implement me")


def conv_parameters(filter_size, in_channels, num_filters, bias=True):
    """Learnable parameters of a conv layer: ``F·F·C·K`` weights (+ ``K`` biases).
    """
    raise NotImplementedError("conv_parameters: implement me")


def fc_parameters(in_features, out_features, bias=True):
    """Learnable parameters of a fully connected layer: ``n_in·n_out`` weights (+ ``n_out`` biases).
    """
    raise NotImplementedError("fc_parameters: implement me")


def pool_output_size(input_size, pool_size, stride=None):
    """Output width of a pooling layer (no padding; ``stride`` defaults to ``pool_size``).

    Raises
    ------
    ValueError
        If the windows do not tile the input (see :func:`conv_output_size`).
    """
    raise NotImplementedError("pool_output_size: implement me")
