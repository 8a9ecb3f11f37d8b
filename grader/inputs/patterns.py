"""Synthetic test images whose corners are known: rectangles, a disc beside a faint square.

Both are (H, W) float32, lightly blurred (Gaussian of ``blur`` px) so that corners are
not single-pixel steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grader.inputs.registry import generator


@generator("rectangles")
def rectangles(shape: Sequence[int], count: int, seed: int, margin: int = 20,
               blur: float = 0.7, strongest: str = "first") -> np.ndarray:
    """(H, W) float32 image of ``count`` separated axis-aligned rectangles of distinct contrasts.

    Every corner is at least ``margin`` pixels from the border and far from
    the other rectangles, so a Harris detector's strongest points are the
    ``4 * count`` corners, ranked by contrast. Lightly blurred (Gaussian of
    ``blur`` px) so corners are not single-pixel steps. Contrast falls in
    raster order (``strongest: first``) or rises (``last``: a detector that
    keeps the first points it finds instead of the strongest keeps the weakest).
    """
    if strongest not in ("first", "last"):
        raise ValueError(f"strongest must be 'first' or 'last', got {strongest!r}")
    rng = np.random.default_rng(seed)
    height, width = shape
    out = np.full((height, width), 0.1)
    columns = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    cell_h, cell_w = (height - 2 * margin) // rows, (width - 2 * margin) // columns
    contrasts = np.linspace(0.9, 0.35, count)[:: 1 if strongest == "first" else -1]
    for index in range(count):
        r, c = divmod(index, columns)
        top = margin + r * cell_h + int(rng.integers(2, max(3, cell_h // 5)))
        left = margin + c * cell_w + int(rng.integers(2, max(3, cell_w // 5)))
        bottom = top + int(rng.integers(cell_h // 2, cell_h * 3 // 4))
        right = left + int(rng.integers(cell_w // 2, cell_w * 3 // 4))
        out[top:bottom, left:right] = 0.1 + contrasts[index]
    return _blurred(out, blur)


@generator("disc_and_square")
def disc_and_square(shape: Sequence[int], radius: float, square: int,
                    square_contrast: float = 0.25, blur: float = 0.7) -> np.ndarray:
    """(H, W) float32: a bright disc (contrast 1) on the left, a faint square on the right.

    The disc's rim is a strong edge with no corner; the square's four corners
    are weak. A Harris response is negative along edges, so every correct
    detector ranks the square's corners first; one whose response is positive
    on edges (``det + alpha * trace²``, a negative alpha) ranks the rim first.
    """
    height, width = shape
    rows, cols = np.mgrid[:height, :width]
    out = np.where(np.hypot(rows - height / 2, cols - width / 3) <= radius, 1.0, 0.0)
    top, left = height // 2 - square // 2, int(width * 0.8) - square // 2
    out[top : top + square, left : left + square] = square_contrast
    return _blurred(out, blur)


def _blurred(image: np.ndarray, blur: float) -> np.ndarray:
    """``image`` (H, W) smoothed by a Gaussian of σ = ``blur`` px, as float32."""
    from scipy import ndimage

    return ndimage.gaussian_filter(image, blur).astype(np.float32)
