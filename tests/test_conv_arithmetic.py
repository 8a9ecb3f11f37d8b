"""Convolution arithmetic of the course notes (reference/conv_arithmetic.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference.conv_arithmetic import (conv1x1_as_fc, conv_output_size, conv_parameters,
                                       fc_parameters, pool_output_size)


def test_alexnet_conv1_gives_55_outputs_and_34944_parameters():
    assert conv_output_size(227, 11, padding=0, stride=4) == 55
    assert conv_parameters(11, 3, 96) == 34_944
    assert conv_parameters(11, 3, 96, bias=False) == 34_848


@pytest.mark.parametrize("args, expected", [((64, 3, 1, 1), 64), ((32, 4, 1, 2), 16), ((5, 5, 0, 1), 1)])
def test_conv_output_size(args, expected):
    assert conv_output_size(*args) == expected


@pytest.mark.parametrize("args", [(32, 5, 2, 2), (10, 3, 0, 4), (3, 5, 0, 1)])
def test_a_configuration_that_does_not_tile_raises(args):
    with pytest.raises(ValueError, match="not a whole number"):
        conv_output_size(*args)


def test_pooling_sizes_default_stride_is_the_window():
    assert pool_output_size(55, 3, 2) == 27  # AlexNet's overlapping pooling
    assert pool_output_size(64, 2) == 32
    with pytest.raises(ValueError):
        pool_output_size(65, 2)


def test_fc_parameters():
    assert fc_parameters(9216, 4096) == 9216 * 4096 + 4096
    assert fc_parameters(10, 3, bias=False) == 30


def test_sizes_agree_with_torch():
    for size, kernel, pad, stride in [(227, 11, 0, 4), (64, 3, 1, 1), (32, 4, 1, 2)]:
        layer = torch.nn.Conv2d(3, 96, kernel, stride=stride, padding=pad)
        assert layer(torch.zeros(1, 3, size, size)).shape[-1] == conv_output_size(size, kernel, pad, stride)
        assert sum(p.numel() for p in layer.parameters()) == conv_parameters(kernel, 3, 96)


def test_1x1_convolution_is_a_fully_connected_layer_per_pixel():
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 5, 6)), rng.normal(size=(4, 3)), rng.normal(size=4)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w)[:, :, None, None],
                                          torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(conv1x1_as_fc(x, w, b), expected, atol=1e-12)
    pixel = x[1, :, 2, 3]
    np.testing.assert_allclose(conv1x1_as_fc(x, w, b)[1, :, 2, 3], w @ pixel + b)
