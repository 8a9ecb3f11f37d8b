"""Seeded input generators named by rubrics (trusted side).

A rubric case names each argument as ``{generator: {params}}``, e.g.
``image: {random: {shape: [20, 30, 3], seed: 1}}``. The generator turns that
into an array or a scalar; the same spec always gives the same bytes.
Generators are registered by name in :data:`GENERATORS`; a new one is a
function plus one entry, validated at rubric load time by its signature.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from grader.datapath import course_file

Value = np.ndarray | float | int | bool | str | None


def random(shape: Sequence[int], seed: int, low: float = 0.0, high: float = 1.0,
           dtype: str = "float32") -> np.ndarray:
    """Uniform noise in ``[low, high)`` of ``shape``, from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=tuple(shape)).astype(dtype)


def normal(shape: Sequence[int], seed: int, scale: float = 1.0, dtype: str = "float64") -> np.ndarray:
    """Standard normal samples times ``scale``, from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal(size=tuple(shape))).astype(dtype)


def integers(shape: Sequence[int], seed: int, high: int, low: int = 0) -> np.ndarray:
    """Integers in ``[low, high)`` (e.g. class labels), from ``default_rng(seed)``."""
    return np.random.default_rng(seed).integers(low, high, size=tuple(shape))


def ramp(shape: Sequence[int], scale: float = 1.0, dtype: str = "float32") -> np.ndarray:
    """``arange(prod(shape)).reshape(shape) * scale`` — the course unit tests' ramp images."""
    return (np.arange(int(np.prod(shape)), dtype=np.float64).reshape(tuple(shape)) * scale).astype(dtype)


def value(data: Any, dtype: str | None = None) -> Value:
    """A literal: a scalar, a string, or a nested list turned into an array."""
    if isinstance(data, (list, tuple)):
        return np.asarray(data, dtype=dtype)
    return data


def kernel(name: str, size: int | Sequence[int] = 3, sigma: float | None = None,
           seed: int = 0) -> np.ndarray:
    """A named 2-D filter kernel of ``size`` = ``k`` or ``[k, l]`` (float64).

    ``identity``, ``box`` (mean), ``gaussian`` (normalised, σ = ``sigma`` or
    ``k / 4``), ``sobel_x``, ``sobel_y``, ``laplacian`` (3×3 only),
    ``high_pass`` (identity minus box) and ``random`` (seeded, asymmetric).
    """
    rows, cols = (size, size) if isinstance(size, int) else tuple(size)
    if name not in _KERNELS:
        raise ValueError(f"unknown kernel {name!r}; choose one of {sorted(_KERNELS)}")
    return _KERNELS[name](rows, cols, sigma, seed)


def image(source: str, scale: float = 1.0, gray: bool = False,
          crop: Sequence[int] | None = None) -> np.ndarray:
    """A photograph as ``float32`` in [0, 1], ``(H, W, 3)`` or ``(H, W)`` if ``gray``.

    ``source`` is ``skimage:NAME`` (a photo bundled with scikit-image, e.g.
    ``skimage:astronaut``) or ``course:RELATIVE/PATH`` under the course data
    folder (see :mod:`grader.datapath`). ``crop`` is ``[row0, row1, col0, col1]``
    applied after scaling.
    """
    pixels = _load_photo(source)
    if scale != 1.0:
        pixels = _rescale(pixels, scale)
    if gray and pixels.ndim == 3:
        pixels = pixels @ np.array([0.299, 0.587, 0.114])
    if crop is not None:
        r0, r1, c0, c1 = crop
        pixels = pixels[r0:r1, c0:c1]
    return np.ascontiguousarray(pixels, dtype=np.float32)


def _load_photo(source: str) -> np.ndarray:
    scheme, _, name = source.partition(":")
    if scheme == "skimage":
        import skimage.data

        pixels = getattr(skimage.data, name)()
    elif scheme == "course":
        from PIL import Image

        with Image.open(course_file(name)) as handle:
            pixels = np.asarray(handle.convert("RGB"))
    else:
        raise ValueError(f"image source must start with 'skimage:' or 'course:', got {source!r}")
    pixels = np.asarray(pixels, dtype=np.float64)
    return pixels / 255.0 if pixels.max() > 1.0 else pixels


def _rescale(pixels: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    planes = pixels[:, :, None] if pixels.ndim == 2 else pixels
    resized = [np.asarray(Image.fromarray(planes[:, :, c].astype(np.float32), mode="F")
                          .resize(size, Image.BILINEAR)) for c in range(planes.shape[2])]
    out = np.stack(resized, axis=-1)
    return out[:, :, 0] if pixels.ndim == 2 else out


def _gaussian(rows: int, cols: int, sigma: float | None, _seed: int) -> np.ndarray:
    def one_d(n: int) -> np.ndarray:
        s = sigma if sigma is not None else n / 4.0
        g = np.exp(-((np.arange(n) - n // 2) ** 2) / (2.0 * s * s))
        return g / g.sum()

    return np.outer(one_d(rows), one_d(cols))


def _identity(rows: int, cols: int, _sigma: Any, _seed: int) -> np.ndarray:
    out = np.zeros((rows, cols))
    out[rows // 2, cols // 2] = 1.0
    return out


def _box(rows: int, cols: int, _sigma: Any, _seed: int) -> np.ndarray:
    return np.full((rows, cols), 1.0 / (rows * cols))


def _fixed(taps: list[list[float]]) -> Callable[..., np.ndarray]:
    def make(rows: int, cols: int, _sigma: Any, _seed: int) -> np.ndarray:
        out = np.asarray(taps, dtype=np.float64)
        if out.shape != (rows, cols):
            raise ValueError(f"this kernel is {out.shape[0]}x{out.shape[1]} only")
        return out

    return make


_KERNELS: dict[str, Callable[[int, int, float | None, int], np.ndarray]] = {
    "identity": _identity,
    "box": _box,
    "gaussian": _gaussian,
    "sobel_x": _fixed([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "sobel_y": _fixed([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "laplacian": _fixed([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "high_pass": lambda r, c, s, seed: _identity(r, c, s, seed) - _box(r, c, s, seed),
    "random": lambda r, c, _s, seed: np.random.default_rng(seed).uniform(-1, 1, (r, c)),
}

GENERATORS: dict[str, Callable[..., Value]] = {
    "random": random,
    "normal": normal,
    "integers": integers,
    "ramp": ramp,
    "value": value,
    "kernel": kernel,
    "image": image,
}

# Transforms applied to one argument to compute a *diagnosis*: the expected output
# of a classic mistake (e.g. a flipped kernel), kept to recognise it in a wrong answer.
TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "flip": lambda a: np.ascontiguousarray(np.asarray(a)[::-1, ::-1]),
    "transpose": lambda a: np.ascontiguousarray(np.asarray(a).T),
}


def check_spec(spec: Any) -> str | None:
    """Why ``spec`` is not a valid argument spec, or ``None`` when it is."""
    if not isinstance(spec, dict) or len(spec) != 1:
        return "an argument must be a mapping with exactly one generator, e.g. {random: {...}}"
    (name, params), = spec.items()
    if name not in GENERATORS:
        return f"unknown generator {name!r}; choose one of {sorted(GENERATORS)}"
    if name == "value":
        return None
    if not isinstance(params, dict):
        return f"the parameters of {name!r} must be a mapping"
    try:
        inspect.signature(GENERATORS[name]).bind(**params)
    except TypeError as exc:
        return f"bad parameters for {name!r}: {exc}"
    return None


def generate(spec: dict[str, Any]) -> Value:
    """Materialise one argument spec (already validated by :func:`check_spec`)."""
    (name, params), = spec.items()
    if name == "value":
        return value(params)
    return GENERATORS[name](**params)
