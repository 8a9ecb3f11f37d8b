"""The filtering reference against independent oracles and the course's published values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from reference import filtering
from reference.filtering import create_gaussian_kernel, create_hybrid_image, my_imfilter

odd = st.integers(min_value=0, max_value=6).map(lambda n: 2 * n + 1)


@st.composite
def image_and_kernel(draw):
    k, l = draw(odd), draw(odd)
    height = draw(st.integers(min_value=k, max_value=40))
    width = draw(st.integers(min_value=l, max_value=40))
    channels = draw(st.sampled_from([None, 1, 3]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels is None else (height, width, channels)
    return rng.random(shape, dtype=np.float32), rng.uniform(-1, 1, (k, l))


def _scipy_oracle(image, kernel):
    planes = image[:, :, None] if image.ndim == 2 else image
    out = np.stack([ndi.correlate(planes[:, :, c].astype(np.float64), kernel, mode="mirror")
                    for c in range(planes.shape[2])], axis=-1)
    return out.reshape(image.shape)


def _torch_oracle_interior(image, kernel):
    """conv2d is a correlation; with no padding it gives the 'valid' interior."""
    planes = image[:, :, None] if image.ndim == 2 else image
    x = torch.from_numpy(planes.astype(np.float64)).permute(2, 0, 1)[:, None]
    w = torch.from_numpy(kernel)[None, None]
    return torch.nn.functional.conv2d(x, w)[:, 0].permute(1, 2, 0).numpy()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(image_and_kernel())
def test_matches_scipy_correlate_with_mirror_padding(case):
    image, kernel = case
    np.testing.assert_allclose(my_imfilter(image, kernel), _scipy_oracle(image, kernel),
                               atol=2e-5, rtol=1e-5)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(image_and_kernel())
def test_interior_matches_torch_conv2d(case):
    image, kernel = case
    k, l = kernel.shape
    out = my_imfilter(image, kernel)
    planes = out[:, :, None] if out.ndim == 2 else out
    interior = planes[k // 2: planes.shape[0] - k // 2, l // 2: planes.shape[1] - l // 2]
    np.testing.assert_allclose(interior, _torch_oracle_interior(image, kernel), atol=2e-5)


def _by_path(image, kernel, path, monkeypatch):
    """my_imfilter forced down one path: direct, separable (two 1-D passes) or fft."""
    costs = {"direct": (np.inf, np.inf), "separable": (np.inf, 1e-9), "fft": (0, 1.5)}[path]
    monkeypatch.setattr(filtering, "FFT_COST_TAPS", costs[0])
    monkeypatch.setattr(filtering, "SEPARABLE_TAP_COST", costs[1])
    return my_imfilter(image, kernel)


@pytest.mark.parametrize("shape", [(9, 9), (5, 13), (25, 1), (1, 25), (3, 3)])
@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-10), (np.float32, 2e-5)])
def test_the_three_paths_agree(shape, dtype, atol, monkeypatch):
    rng = np.random.default_rng(3)
    image = rng.random((40, 50, 3)).astype(dtype)
    separable = np.outer(rng.uniform(-1, 1, shape[0]), rng.uniform(-1, 1, shape[1]))
    for kernel in (rng.uniform(-1, 1, shape), separable):
        direct = _by_path(image, kernel, "direct", monkeypatch)
        assert direct.dtype == dtype
        np.testing.assert_allclose(_by_path(image, kernel, "fft", monkeypatch), direct, atol=atol)
    np.testing.assert_allclose(_by_path(image, separable, "separable", monkeypatch),
                               _by_path(image, separable, "direct", monkeypatch), atol=atol)


def test_the_cheapest_path_is_chosen(monkeypatch):
    gaussian, noise = filtering.create_gaussian_kernel(3.5), np.random.default_rng(0).random((15, 15))
    assert gaussian.shape == (15, 15)
    assert filtering._separable(gaussian) is not None and filtering._separable(noise) is None
    column, row = filtering._separable(gaussian)
    np.testing.assert_allclose(np.outer(column, row), gaussian, atol=1e-15)
    calls = []
    for name in ("_correlate_direct", "_correlate_fft"):
        real = getattr(filtering, name)
        monkeypatch.setattr(filtering, name, lambda *a, _real=real, _name=name:
                            calls.append((_name, a[1].shape)) or _real(*a))
    image = np.random.default_rng(1).random((30, 40, 3))
    chosen = {}
    for label, kernel in {"3x3": noise[:3, :3], "gaussian": gaussian, "noise": noise}.items():
        calls.clear()
        my_imfilter(image, kernel)
        chosen[label] = list(calls)
    assert chosen == {"3x3": [("_correlate_direct", (3, 3))],  # 9 taps
                      "gaussian": [("_correlate_direct", (15, 1)),  # 1.5 × 30 = 45 tap-costs
                                   ("_correlate_direct", (1, 15))],
                      "noise": [("_correlate_fft", (15, 15))]}  # 225 taps > FFT_COST_TAPS


def test_preserves_shape_and_float32():
    image = np.random.default_rng(0).random((12, 17, 3), dtype=np.float32)
    out = my_imfilter(image, np.ones((3, 5)) / 15)
    assert out.shape == image.shape and out.dtype == np.float32


def test_identity_kernel_returns_input_exactly():
    image = np.random.default_rng(1).random((12, 17, 3), dtype=np.float32)
    identity = np.zeros((5, 3))
    identity[2, 1] = 1
    np.testing.assert_array_equal(my_imfilter(image, identity), image)


def test_correlation_not_convolution():
    image = np.zeros((7, 7))
    image[3, 3] = 1.0
    kernel = np.arange(9.0).reshape(3, 3)
    # correlating an impulse with a kernel gives the kernel flipped about its centre
    np.testing.assert_array_equal(my_imfilter(image, kernel)[2:5, 2:5], kernel[::-1, ::-1])


@pytest.mark.parametrize("shape", [(2, 3), (3, 4), (4, 4)])
def test_even_kernel_is_rejected(shape):
    with pytest.raises(ValueError, match="odd"):
        my_imfilter(np.zeros((10, 10, 3)), np.ones(shape))


def test_course_ramp_square_kernel_interior():
    """F19 unit test: a 4x5x3 ramp with the 3x3 kernel arange(9)/9 (interior 2x3x3 block)."""
    image = np.arange(60, dtype=np.float32).reshape(4, 5, 3)
    kernel = np.arange(9).reshape(3, 3) / 9
    expected = np.stack([
        [[104, 108, 112], [116, 120, 124], [128, 132, 136]],
        [[164, 168, 172], [176, 180, 184], [188, 192, 196]],
    ]).astype(np.float32)  # hand-checked: sum_{u,v} k[u,v] * image[i+u-1, j+v-1]
    np.testing.assert_allclose(my_imfilter(image, kernel)[1:-1, 1:-1], expected, rtol=1e-6)


def test_gaussian_kernel_helper():
    kernel = create_gaussian_kernel(7)
    assert kernel.shape == (29, 29)
    assert kernel.sum() == pytest.approx(1.0)
    assert np.unravel_index(kernel.argmax(), kernel.shape) == (14, 14)
    np.testing.assert_allclose(kernel, kernel.T)


def test_hybrid_only_clips_the_hybrid():
    rng = np.random.default_rng(5)
    a, b = rng.random((20, 20, 3)), rng.random((20, 20, 3))
    low, high, hybrid = create_hybrid_image(a, b, create_gaussian_kernel(2))
    assert high.min() < 0  # high frequencies are zero-mean, not clipped
    assert hybrid.min() >= 0 and hybrid.max() <= 1
    np.testing.assert_allclose(hybrid, np.clip(low + high, 0, 1))


def test_hybrid_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        create_hybrid_image(np.zeros((5, 5, 3)), np.zeros((5, 6, 3)), np.ones((3, 3)))


def _load(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255


def test_course_published_sums_on_dog_and_cat(course_data):
    """The F19 notebook verifiers: interior sums of low, high and hybrid (k-pixel border excluded)."""
    dog, cat = _load(course_data / "proj1/1a_dog.bmp"), _load(course_data / "proj1/1b_cat.bmp")
    assert dog.sum() == pytest.approx(215154.9531, abs=5)
    assert cat.sum() == pytest.approx(230960.1875, abs=5)
    low, high, hybrid = create_hybrid_image(dog, cat, create_gaussian_kernel(7))
    k = 29
    assert np.allclose(low[k:-k, k:-k].sum(), 158332.02)
    assert np.allclose(high[k:-k, k:-k].sum(), 12.029784, atol=1e-2)
    assert np.allclose(hybrid[k:-k, k:-k].sum(), 158339.52)
