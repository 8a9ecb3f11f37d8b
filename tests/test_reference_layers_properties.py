"""Identities of reference.layers and reference.gradcheck, as property tests.

Oracles are independent of the code under test: scipy.signal for the
convolution identities of the conv backward, scipy.special for softmax, a
window-by-window loop for max-pooling and central differences for everything.
"""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal, special

from reference.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from reference.layers import (
    affine_backward, affine_forward, conv_backward_naive, conv_forward_naive, conv_transpose,
    max_pool_backward_naive, max_pool_forward_naive, max_pool_switches, max_unpool,
    relu_backward, relu_forward, softmax_loss,
)

CASES = settings(max_examples=60, deadline=None, derandomize=True, database=None)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def conv_geometry(draw):
    """(x, w, dout, conv_param) with H, W trimmed so the stride tiles the padded input."""
    pad, stride = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    hh, ww = draw(st.integers(1, h + 2 * pad)), draw(st.integers(1, w + 2 * pad))
    h_span, w_span = h + 2 * pad - hh, w + 2 * pad - ww
    h, w = h - h_span % stride, w - w_span % stride
    if min(h, w) < 1:  # trimming emptied the input: undo it and use stride 1
        h, w, stride = h + h_span % stride, w + w_span % stride, 1
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(seeds))
    param = {"stride": stride, "pad": pad}
    h_out, w_out = 1 + (h + 2 * pad - hh) // stride, 1 + (w + 2 * pad - ww) // stride
    return (rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, hh, ww)),
            rng.standard_normal((n, f, h_out, w_out)), param)


def conv_backward(x, w, dout, param):
    """Run conv forward then backward with a random bias; return dx, dw, db."""
    b = np.random.default_rng(0).standard_normal(w.shape[0])
    out, cache = conv_forward_naive(x, w, b, param)
    assert out.shape == dout.shape
    return conv_backward_naive(dout, cache)


def dilate(dout, stride):
    """Insert stride - 1 zeros between the samples of the last two axes."""
    n, f, h_out, w_out = dout.shape
    out = np.zeros((n, f, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1))
    out[:, :, ::stride, ::stride] = dout
    return out


# --- convolution ------------------------------------------------------------------------------

@CASES
@given(case=conv_geometry())
def test_conv_dx_is_full_convolution_of_dout_with_kernel(case):
    """dx_p[n, c] = sum_f dout[n, f] * w[f, c] ('full'), i.e. correlation with the flipped w.

    For stride s > 1 the identity holds with dout dilated by s.
    """
    x, w, dout, param = case
    dx, _, _ = conv_backward(x, w, dout, param)
    up = dilate(dout, param["stride"])  # stride 1 leaves dout unchanged
    pad, (n, c, h, width) = param["pad"], x.shape
    for i in range(n):
        for j in range(c):
            full = sum(signal.convolve(up[i, f], w[f, j], mode="full") for f in range(w.shape[0]))
            flipped = sum(signal.correlate(up[i, f], w[f, j, ::-1, ::-1], mode="full")
                          for f in range(w.shape[0]))
            np.testing.assert_allclose(full, flipped, atol=1e-12)
            assert full.shape == (h + 2 * pad, width + 2 * pad)
            np.testing.assert_allclose(dx[i, j], full[pad:pad + h, pad:pad + width], atol=1e-12)


@CASES
@given(case=conv_geometry())
def test_conv_dw_is_correlation_of_padded_input_with_dout(case):
    x, w, dout, param = case
    _, dw, db = conv_backward(x, w, dout, param)
    pad, stride = param["pad"], param["stride"]
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    up = dilate(dout, stride)
    for f in range(w.shape[0]):
        for c in range(w.shape[1]):
            expected = sum(signal.correlate(xp[n, c], up[n, f], mode="valid")
                           for n in range(x.shape[0]))
            np.testing.assert_allclose(dw[f, c], expected, atol=1e-12)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), atol=1e-12)


@CASES
@given(case=conv_geometry())
def test_conv_transpose_is_adjoint_of_conv(case):
    """<conv(x), y> = <x, conv_transpose(y)> for the bias-free convolution."""
    x, w, y, param = case
    conv_x, _ = conv_forward_naive(x, w, np.zeros(w.shape[0]), param)
    back = conv_transpose(y, w, param)
    assert back.shape == x.shape
    assert np.vdot(conv_x, y) == pytest.approx(np.vdot(x, back), rel=1e-10, abs=1e-10)


def test_conv_forward_has_no_kernel_flip():
    """A kernel with a single 1 at (0, 0) picks the top-left pixel of each window."""
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 0] = 1.0
    out, _ = conv_forward_naive(x, w, np.zeros(1), {"stride": 1, "pad": 0})
    np.testing.assert_array_equal(out[0, 0], [[0.0, 1.0], [3.0, 4.0]])


# --- affine, relu, softmax --------------------------------------------------------------------

@CASES
@given(n=st.integers(1, 4), dims=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       m=st.integers(1, 4), seed=seeds)
def test_affine_backward_is_dout_times_w_transpose(n, dims, m, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((n, *dims)), rng.standard_normal((int(np.prod(dims)), m))
    dout = rng.standard_normal((n, m))
    dx, dw, db = affine_backward(dout, affine_forward(x, w, rng.standard_normal(m))[1])
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx.reshape(n, -1), dout @ w.T, atol=1e-12)
    outer = sum(np.outer(x[i].ravel(), dout[i]) for i in range(n))
    np.testing.assert_allclose(dw, outer, atol=1e-12)
    np.testing.assert_allclose(db, dout.sum(axis=0), atol=1e-12)


def test_relu_backward_uses_subgradient_zero_at_zero():
    x = np.array([-1.0, 0.0, 2.0])
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(relu_backward(np.ones(3), cache), [0.0, 0.0, 1.0])


@CASES
@given(n=st.integers(1, 5), c=st.integers(1, 5), scale=st.sampled_from([1.0, 1e4]), seed=seeds)
def test_softmax_gradient_is_probabilities_minus_onehot_over_n(n, c, scale, seed):
    rng = np.random.default_rng(seed)
    x, y = scale * rng.standard_normal((n, c)), rng.integers(0, c, n)
    loss, dx = softmax_loss(x, y)
    onehot = np.eye(c)[y]
    np.testing.assert_allclose(dx, (special.softmax(x, axis=1) - onehot) / n, atol=1e-12)
    expected = -np.mean(special.log_softmax(x, axis=1)[np.arange(n), y])
    assert np.isfinite(loss) and loss == pytest.approx(expected, rel=1e-12, abs=1e-12)


# --- max-pooling and unpooling ----------------------------------------------------------------

@st.composite
def pool_geometry(draw):
    """(x, pool_param) with few distinct integer values, so ties are common."""
    ph, pw, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h_out, w_out, c = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(seeds))
    shape = (2, c, (h_out - 1) * stride + ph, (w_out - 1) * stride + pw)
    return rng.integers(0, 3, shape).astype(float), {"pool_height": ph, "pool_width": pw,
                                                     "stride": stride}


def pool_backward_loop(x, dout, param):
    """The window-by-window loop of the CS231n notes; np.argmax takes the first maximum."""
    ph, pw, s = param["pool_height"], param["pool_width"], param["stride"]
    dx = np.zeros_like(x)
    for index in np.ndindex(dout.shape):
        n, c, i, j = index
        k = np.argmax(x[n, c, i * s:i * s + ph, j * s:j * s + pw])
        dx[n, c, i * s + k // pw, j * s + k % pw] += dout[index]
    return dx


@CASES
@given(case=pool_geometry(), seed=seeds)
def test_max_pool_gradient_routes_to_first_argmax_only(case, seed):
    x, param = case
    out, cache = max_pool_forward_naive(x, param)
    dout = np.random.default_rng(seed).uniform(1.0, 2.0, out.shape)
    dx = max_pool_backward_naive(dout, cache)
    np.testing.assert_allclose(dx, pool_backward_loop(x, dout, param), atol=1e-12)
    assert dx.sum() == pytest.approx(dout.sum(), rel=1e-12)
    planes = x.reshape(*x.shape[:2], -1)
    switches = max_pool_switches(x, param).reshape(*x.shape[:2], -1)
    np.testing.assert_array_equal(np.take_along_axis(planes, switches, axis=2).ravel(), out.ravel())
    hit = np.zeros_like(planes, dtype=bool)
    np.put_along_axis(hit, switches, True, axis=2)
    np.testing.assert_array_equal(dx != 0, hit.reshape(x.shape))  # dout > 0: nonzero at switches


def test_max_pool_ties_go_to_first_maximum_in_row_major_order():
    x = np.array([[[[1.0, 3.0, 5.0, 5.0], [3.0, 0.0, 5.0, 5.0]]]])
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward_naive(x, param)
    np.testing.assert_array_equal(out, [[[[3.0, 5.0]]]])
    dx = max_pool_backward_naive(np.ones((1, 1, 1, 2)), cache)
    np.testing.assert_array_equal(dx, [[[[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])


def test_max_unpool_sums_overlapping_windows():
    x = np.array([[[[0.0, 9.0, 0.0]]]])  # both 1x2 windows (stride 1) have their max at column 1
    switches = max_pool_switches(x, {"pool_height": 1, "pool_width": 2, "stride": 1})
    np.testing.assert_array_equal(switches, [[[[1, 1]]]])
    np.testing.assert_array_equal(max_unpool(np.array([[[[2.0, 5.0]]]]), switches, (1, 3)),
                                  [[[[0.0, 7.0, 0.0]]]])


# --- numerical gradients ----------------------------------------------------------------------

def distinct(rng, shape):
    """Values 0.1 apart, shuffled, so a step of 1e-5 never changes an argmax or crosses 0."""
    return (rng.permutation(int(np.prod(shape))) - 0.5 * np.prod(shape) + 0.5).reshape(shape) * 0.1


@pytest.mark.parametrize("stride, pad", [(1, 0), (1, 1), (2, 1), (3, 1)])
def test_conv_backward_matches_numerical_gradient(stride, pad):
    rng = np.random.default_rng(231 + stride + pad)
    x, w, b = (rng.standard_normal(shape) for shape in ((2, 3, 7, 7), (3, 3, 3, 3), (3,)))
    param = {"stride": stride, "pad": pad}
    out, cache = conv_forward_naive(x, w, b, param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward_naive(dout, cache)
    for array, grad in ((x, dx), (w, dw), (b, db)):
        numeric = eval_numerical_gradient_array(lambda _: conv_forward_naive(x, w, b, param)[0],
                                                array, dout)
        assert rel_error(grad, numeric) < 1e-7


def test_affine_relu_softmax_match_numerical_gradient():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((8, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((3, 5))
    dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])
    for array, grad in ((x, dx), (w, dw), (b, db)):
        numeric = eval_numerical_gradient_array(lambda _: affine_forward(x, w, b)[0], array, dout)
        assert rel_error(grad, numeric) < 1e-7
    z, dz = distinct(rng, (4, 6)), rng.standard_normal((4, 6))
    numeric = eval_numerical_gradient_array(lambda v: relu_forward(v)[0], z, dz)
    assert rel_error(relu_backward(dz, z), numeric) < 1e-7
    scores, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    numeric = eval_numerical_gradient(lambda s: softmax_loss(s, labels)[0], scores)
    assert rel_error(softmax_loss(scores, labels)[1], numeric) < 1e-7


@pytest.mark.parametrize("size, stride, width", [(2, 2, 6), (3, 2, 7), (3, 1, 5)])
def test_max_pool_backward_matches_numerical_gradient(size, stride, width):
    rng = np.random.default_rng(size * 10 + stride)
    x = distinct(rng, (2, 2, width, width))
    param = {"pool_height": size, "pool_width": size, "stride": stride}
    out, cache = max_pool_forward_naive(x, param)
    dout = rng.standard_normal(out.shape)
    numeric = eval_numerical_gradient_array(lambda v: max_pool_forward_naive(v, param)[0], x, dout)
    assert rel_error(max_pool_backward_naive(dout, cache), numeric) < 1e-7


# --- gradcheck itself ---------------------------------------------------------------------------

def test_eval_numerical_gradient_on_known_functions():
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    np.testing.assert_allclose(eval_numerical_gradient(lambda v: np.sum(v ** 3), x), 3 * x ** 2,
                               rtol=1e-9)
    np.testing.assert_allclose(eval_numerical_gradient(lambda v: np.sum(np.sin(v)), x), np.cos(x),
                               rtol=1e-9)


def test_eval_numerical_gradient_array_is_vector_jacobian_product():
    rng = np.random.default_rng(1)
    a, x, df = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(4)
    np.testing.assert_allclose(eval_numerical_gradient_array(lambda v: a @ v, x, df), a.T @ df,
                               rtol=1e-9)
    x2, df2 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    np.testing.assert_allclose(eval_numerical_gradient_array(lambda v: v ** 2, x2, df2),
                               2 * x2 * df2, rtol=1e-8)


def test_gradcheck_perturbs_in_place_and_restores():
    x = np.array([1.0, 2.0, 3.0])
    before = x.copy()
    grad = eval_numerical_gradient(lambda _: float(np.sum(x ** 2)), x)  # reads x by closure
    np.testing.assert_allclose(grad, 2 * before, rtol=1e-9)
    np.testing.assert_array_equal(x, before)

    def explode(_):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        eval_numerical_gradient_array(explode, x, np.ones(3))
    np.testing.assert_array_equal(x, before)


def test_eval_numerical_gradient_verbose_prints_each_index(capsys):
    eval_numerical_gradient(lambda v: float(np.sum(v)), np.zeros((1, 2)), verbose=True)
    assert capsys.readouterr().out.splitlines()[0].startswith("(0, 0)")


def test_rel_error_known_values_and_detects_a_wrong_gradient():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0, -2.0]), np.array([3.0, -2.0])) == 0.5
    assert rel_error(np.array([1e-9]), np.array([0.0])) == pytest.approx(0.1)
    x = np.array([0.3, -0.7])
    assert rel_error(eval_numerical_gradient(lambda v: np.sum(v ** 2), x), 4 * x) > 0.3


# --- errors and documentation -----------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: conv_forward_naive(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 2, 2)), np.zeros(1),
                               {"stride": 2, "pad": 0}),
    lambda: conv_forward_naive(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 5, 5)), np.zeros(1),
                               {"stride": 1, "pad": 1}),
    lambda: max_pool_forward_naive(np.zeros((1, 1, 4, 4)), {"pool_height": 3, "pool_width": 3,
                                                            "stride": 2}),
    lambda: max_pool_switches(np.zeros((1, 1, 4, 5)), {"pool_height": 2, "pool_width": 2,
                                                       "stride": 2}),
], ids=["conv-stride", "conv-kernel-too-big", "pool-height", "pool-width"])
def test_non_integer_output_size_raises_one_sentence_value_error(call):
    with pytest.raises(ValueError, match="is not a positive integer") as info:
        call()
    assert "\n" not in str(info.value) and str(info.value).endswith(".")


@pytest.mark.parametrize("call", [
    lambda: conv_forward_naive(np.zeros((1, 2, 3, 3)), np.zeros((1, 3, 2, 2)), np.zeros(1),
                               {"stride": 1, "pad": 0}),
    lambda: affine_forward(np.zeros((2, 3)), np.zeros((4, 2)), np.zeros(2)),
    lambda: softmax_loss(np.zeros((2, 3)), np.array([0, 3])),
    lambda: softmax_loss(np.zeros((2, 3)), np.array([0.0, 1.0])),
    lambda: conv_transpose(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)), {"stride": 1, "pad": 1}),
    lambda: max_unpool(np.zeros((1, 1, 1, 1)), np.array([[[[4]]]]), (2, 2)),
], ids=["conv-channels", "affine-D", "label-range", "label-dtype", "transpose-empty", "switch"])
def test_bad_shapes_and_labels_raise_value_error(call):
    with pytest.raises(ValueError) as info:
        call()
    assert "\n" not in str(info.value) and str(info.value).endswith(".")


def test_caches_have_the_cs231n_layout():
    """A reference cache must unpack the way CS231n student backward passes unpack it."""
    x, w, b = np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1)), np.zeros(1)
    assert affine_forward(x, np.ones((4, 1)), b)[1][0] is x
    assert relu_forward(x)[1] is x
    conv_param = {"stride": 1, "pad": 0}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    conv_cache = conv_forward_naive(x, w, b, conv_param)[1]
    assert all(a is e for a, e in zip(conv_cache, (x, w, b, conv_param), strict=True))
    pool_cache = max_pool_forward_naive(x, pool_param)[1]
    assert all(a is e for a, e in zip(pool_cache, (x, pool_param), strict=True))

