"""reference.layers against PyTorch autograd (float64), an independent oracle.

Shapes, strides and paddings are drawn by hypothesis (derandomised, bounded);
array values come from a drawn seed, so every run sees the same cases.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.layers import (
    affine_backward, affine_forward, conv_backward_naive, conv_forward_naive, conv_transpose,
    max_pool_backward_naive, max_pool_forward_naive, max_pool_switches, max_unpool,
    relu_backward, relu_forward, softmax_loss,
)

CASES = settings(max_examples=80, deadline=None, derandomize=True, database=None)
seeds = st.integers(0, 2**32 - 1)


def assert_close(actual, expected):
    """Compare a numpy result with a torch float64 result to 1e-10."""
    expected = expected.detach().numpy() if torch.is_tensor(expected) else expected
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10)


def torch_grads(outputs, dout, *inputs):
    """Gradients of ``sum(outputs * dout)`` with respect to `inputs`."""
    return torch.autograd.grad(outputs, inputs, grad_outputs=torch.from_numpy(dout))


def leaf(array):
    """A float64 torch leaf tensor sharing nothing with `array`."""
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


@st.composite
def conv_cases(draw):
    """(x, w, b, conv_param) whose output size is a whole number by construction."""
    stride, hh, ww = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    span_h = (draw(st.integers(1, 4)) - 1) * stride + hh  # H + 2 pad for a drawn H'
    span_w = (draw(st.integers(1, 4)) - 1) * stride + ww
    pad = draw(st.integers(0, min(2, (min(span_h, span_w) - 1) // 2)))
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(seeds))
    x = rng.standard_normal((n, c, span_h - 2 * pad, span_w - 2 * pad))
    w, b = rng.standard_normal((f, c, hh, ww)), rng.standard_normal(f)
    return x, w, b, {"stride": stride, "pad": pad}


@st.composite
def pool_cases(draw):
    """(x, pool_param), windows possibly overlapping, output size whole by construction."""
    ph, pw, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h_out, w_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(seeds))
    x = rng.standard_normal((n, c, (h_out - 1) * stride + ph, (w_out - 1) * stride + pw))
    return x, {"pool_height": ph, "pool_width": pw, "stride": stride}


@CASES
@given(n=st.integers(1, 4), dims=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       m=st.integers(1, 5), seed=seeds)
def test_affine_matches_torch_linear(n, dims, m, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((n, *dims)), rng.standard_normal((int(np.prod(dims)), m))
    b, dout = rng.standard_normal(m), rng.standard_normal((n, m))
    out, cache = affine_forward(x, w, b)
    tx, tw, tb = leaf(x), leaf(w), leaf(b)
    t_out = F.linear(tx.reshape(n, -1), tw.T, tb)
    assert_close(out, t_out)
    for ours, theirs in zip(affine_backward(dout, cache), torch_grads(t_out, dout, tx, tw, tb)):
        assert_close(ours, theirs)


@CASES
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=seeds)
def test_relu_matches_torch(shape, seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    x.flat[0] = 0.0  # the kink: both use the subgradient 0
    out, cache = relu_forward(x)
    tx = leaf(x)
    t_out = F.relu(tx)
    assert_close(out, t_out)
    assert_close(relu_backward(dout, cache), torch_grads(t_out, dout, tx)[0])


@CASES
@given(case=conv_cases(), seed=seeds)
def test_conv_matches_torch_conv2d(case, seed):
    x, w, b, conv_param = case
    out, cache = conv_forward_naive(x, w, b, conv_param)
    tx, tw, tb = leaf(x), leaf(w), leaf(b)
    t_out = F.conv2d(tx, tw, tb, stride=conv_param["stride"], padding=conv_param["pad"])
    assert_close(out, t_out)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    for ours, theirs in zip(conv_backward_naive(dout, cache), torch_grads(t_out, dout, tx, tw, tb)):
        assert_close(ours, theirs)


@CASES
@given(case=conv_cases(), seed=seeds)
def test_conv_transpose_matches_torch_conv_transpose2d(case, seed):
    x, w, _, conv_param = case
    out_shape = conv_forward_naive(x, w, np.zeros(w.shape[0]), conv_param)[0].shape
    y = np.random.default_rng(seed).standard_normal(out_shape)
    expected = F.conv_transpose2d(torch.from_numpy(y), torch.from_numpy(w),
                                  stride=conv_param["stride"], padding=conv_param["pad"])
    assert_close(conv_transpose(y, w, conv_param), expected)


@CASES
@given(case=pool_cases(), seed=seeds)
def test_max_pool_matches_torch_max_pool2d(case, seed):
    x, pool_param = case
    kernel, stride = (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"]
    out, cache = max_pool_forward_naive(x, pool_param)
    tx = leaf(x)
    t_out, t_indices = F.max_pool2d(tx, kernel, stride=stride, return_indices=True)
    assert_close(out, t_out)
    np.testing.assert_array_equal(max_pool_switches(x, pool_param), t_indices.numpy())
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    assert_close(max_pool_backward_naive(dout, cache), torch_grads(t_out, dout, tx)[0])


@CASES
@given(case=pool_cases(), seed=seeds)
def test_max_unpool_matches_torch(case, seed):
    """Equal to max_unpool2d for disjoint windows, to max_pool2d's VJP always."""
    x, pool_param = case
    kernel, stride = (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"]
    switches = max_pool_switches(x, pool_param)
    y = np.random.default_rng(seed).standard_normal(switches.shape)
    ours = max_unpool(y, switches, x.shape[2:])
    tx = leaf(x)
    assert_close(ours, torch_grads(F.max_pool2d(tx, kernel, stride=stride), y, tx)[0])
    if stride >= max(kernel):
        expected = F.max_unpool2d(torch.from_numpy(y), torch.from_numpy(switches), kernel,
                                  stride=stride, output_size=x.shape[2:])
        assert_close(ours, expected)


@CASES
@given(n=st.integers(1, 6), c=st.integers(1, 6), scale=st.sampled_from([1.0, 1e3]), seed=seeds)
def test_softmax_loss_matches_torch_cross_entropy(n, c, scale, seed):
    rng = np.random.default_rng(seed)
    x, y = scale * rng.standard_normal((n, c)), rng.integers(0, c, n)
    loss, dx = softmax_loss(x, y)
    tx = leaf(x)
    t_loss = F.cross_entropy(tx, torch.from_numpy(y))
    assert loss == pytest.approx(t_loss.item(), rel=1e-12, abs=1e-12)
    assert_close(dx, torch.autograd.grad(t_loss, tx)[0])
