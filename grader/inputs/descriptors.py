"""Feature descriptors with planted matches, for the ratio-test matcher (proj2).

Each generator makes side ``a`` or ``b`` (``which``) of one seeded draw: rows are
float32 unit vectors of length ``dim``, so a call per side gives a consistent pair.
"""

from __future__ import annotations

import numpy as np

from grader.inputs.registry import generator


@generator("ranked_descriptors")
def ranked_descriptors(count: int, ambiguous: int, distractors: int, seed: int, which: str,
                       dim: int = 128) -> np.ndarray:
    """Descriptors whose best matches are known *in order*, plus ambiguous ones.

    Row ``i < count`` of ``a`` matches row ``i`` of ``b``: a noisy copy whose
    noise falls with ``i`` (0.08 to 0.02 per unit vector), so its distance
    ratio and the reference's confidence rise with ``i``: in query order the
    weakest matches come first, and a matcher that returns the ratio test's
    survivors unsorted has not ranked them (when the strongest came first, it
    passed by accident). Each of the next
    ``ambiguous`` rows of ``a`` has *two* near copies in ``b`` (noise 0.015):
    nearer than any true match, but with a distance ratio near 1, so the
    ratio test rejects them while a matcher that ranks by the nearest
    distance alone (or misreads the second-nearest) puts them first. The
    remaining rows are unrelated random unit vectors.
    """
    rng = np.random.default_rng(seed)
    a = _unit(rng.standard_normal((count + ambiguous + distractors, dim)))
    b = _unit(rng.standard_normal((count + 2 * ambiguous + distractors, dim)))
    noise = np.linspace(0.08, 0.02, count)[:, None]
    b[:count] = _unit(a[:count] + noise * rng.standard_normal((count, dim)))
    twins = a[count : count + ambiguous]
    for copy in range(2):
        rows = slice(count + copy * ambiguous, count + (copy + 1) * ambiguous)
        b[rows] = _unit(twins + 0.015 * rng.standard_normal(twins.shape))
    return a if which == "a" else b


@generator("planted_descriptors")
def planted_descriptors(count: int, distractors: int, seed: int, which: str,
                        dim: int = 128, noise: float = 0.05) -> np.ndarray:
    """Descriptors with known matches: ``a`` is (count + distractors, dim), ``b`` (count + distractors, dim).

    Rows ``0 .. count-1`` of ``a`` match row ``(i * 7 + 3) % count`` of ``b``
    (a noisy copy, noise ``noise`` per unit vector); the remaining rows of
    both are unrelated random unit vectors, whose nearest-neighbour distance
    ratio is close to 1 so every ratio test rejects them.
    """
    rng = np.random.default_rng(seed)
    a = _unit(rng.standard_normal((count + distractors, dim)))
    b = _unit(rng.standard_normal((count + distractors, dim)))
    targets = (np.arange(count) * 7 + 3) % count
    b[targets] = _unit(a[:count] + noise * rng.standard_normal((count, dim)))
    return a if which == "a" else b


def _unit(rows: np.ndarray) -> np.ndarray:
    """(N, D) ``rows`` scaled to unit length, as float32."""
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
