"""Labelled image sets for training checks (proj4_cnn): the 15-scene data and synthetic glyphs.

A generator gives one ``part`` of a set: ``images`` (N, size, size) uint8 or ``labels`` (N,)
int64, so a case names the two as two arguments drawn from the same set.
"""

from __future__ import annotations

import functools

import numpy as np

from grader.inputs.registry import generator


@generator("scenes", course_data=True)
def scenes(split: str, part: str, size: int = 64) -> np.ndarray:
    """15-scene ``split`` (``train``/``test``): ``part`` = ``images`` (N, size, size) uint8 or
    ``labels`` (N,) int64. Read from the course data (see :mod:`grader.datasets.scenes`)."""
    from grader.datasets.scenes import load_scenes

    data = load_scenes(split, size)
    return _dataset_part(data.images, data.labels, part)


@generator("glyphs")
def glyphs(part: str, count: int, seed: int, size: int = 32, gain: float = 1.0) -> np.ndarray:
    """Synthetic seven-segment digits (see :mod:`grader.datasets.glyphs`): ``part`` =
    ``images`` (count, size, size) uint8 or ``labels`` (count,) int64. ``gain``
    scales the pixels (e.g. a darker test split, with other statistics)."""
    images, labels = _glyph_set(count, seed, size)
    if part == "images" and gain != 1.0:
        images = np.clip(np.rint(images * float(gain)), 0, 255).astype(np.uint8)
    return _dataset_part(images, labels, part)


def _dataset_part(images: np.ndarray, labels: np.ndarray, part: str) -> np.ndarray:
    """A copy of ``images`` or ``labels``, as ``part`` says."""
    if part not in ("images", "labels"):
        raise ValueError(f"part must be 'images' or 'labels', got {part!r}")
    return (images if part == "images" else labels).copy()


@functools.lru_cache(maxsize=4)
def _glyph_set(count: int, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` glyphs of ``size`` px drawn with ``seed``, made once for both parts."""
    from grader.datasets.glyphs import make_glyphs

    return make_glyphs(count, seed, size)
