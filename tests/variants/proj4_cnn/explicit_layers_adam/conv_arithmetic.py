"""Convolution arithmetic written with divmod and einsum (a correct variant)."""

import numpy as np


def conv_output_size(input_size, filter_size, padding=0, stride=1):
    if stride <= 0:
        raise ValueError("stride must be positive")
    steps, leftover = divmod(input_size + 2 * padding - filter_size, stride)
    if steps < 0 or leftover != 0:
        raise ValueError(f"filter {filter_size}, stride {stride}, padding {padding} do not tile {input_size}")
    return steps + 1


def pool_output_size(input_size, pool_size, stride=None):
    return conv_output_size(input_size, pool_size, padding=0, stride=stride or pool_size)


def conv_parameters(filter_size, in_channels, num_filters, bias=True):
    weights = num_filters * in_channels * filter_size ** 2
    return weights + num_filters if bias else weights


def fc_parameters(in_features, out_features, bias=True):
    return (in_features + (1 if bias else 0)) * out_features


def conv1x1_as_fc(x, w, b):
    return np.einsum("kc,nchw->nkhw", w, x) + b[None, :, None, None]
