"""Named 2-D filter kernels (float64): identity, box, Gaussian, Sobel, Laplacian, random."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from grader.inputs.registry import dimensions, generator

KernelMaker = Callable[[int, int, float | None, int], np.ndarray]  # (rows, cols, sigma, seed)


def _label(params: dict[str, Any]) -> str:
    """``gaussian 5×5``: the kernel's name and ``size``."""
    size = params.get("size", 3)
    return f"{params['name']} {dimensions(size if isinstance(size, list) else [size, size])}"


@generator("kernel", label=_label)
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


def _fixed(taps: list[list[float]]) -> KernelMaker:
    def make(rows: int, cols: int, _sigma: Any, _seed: int) -> np.ndarray:
        out = np.asarray(taps, dtype=np.float64)
        if out.shape != (rows, cols):
            raise ValueError(f"this kernel is {out.shape[0]}x{out.shape[1]} only")
        return out

    return make


_KERNELS: dict[str, KernelMaker] = {
    "identity": _identity,
    "box": _box,
    "gaussian": _gaussian,
    "sobel_x": _fixed([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "sobel_y": _fixed([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "laplacian": _fixed([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "high_pass": lambda r, c, s, seed: _identity(r, c, s, seed) - _box(r, c, s, seed),
    "random": lambda r, c, _s, seed: np.random.default_rng(seed).uniform(-1, 1, (r, c)),
}
