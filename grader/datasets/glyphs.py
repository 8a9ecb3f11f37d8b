"""A small synthetic 10-class image set for CNN checks that need no course data.

Each image is a seven-segment digit (0–9) drawn with strokes of random width
and contrast, jittered vertices, a random slant, rotation, scale and shift,
over a random background gradient with faint clutter strokes and pixel noise.
Digits share segments (8 contains every other digit), so a model must look
at the arrangement of strokes, not their mere presence: a linear model or an
under-trained net lands well below a small trained CNN.

Everything is seeded: the same ``(count, seed, size)`` always gives the same bytes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NUM_CLASSES", "SEGMENTS", "make_glyphs"]

NUM_CLASSES = 10
# Segment endpoints on a 1 × 2 grid (x right, y down): a top, b/c right, d bottom, e/f left, g middle.
_ENDS = {"a": ((0, 0), (1, 0)), "b": ((1, 0), (1, 1)), "c": ((1, 1), (1, 2)),
         "d": ((0, 2), (1, 2)), "e": ((0, 1), (0, 2)), "f": ((0, 0), (0, 1)),
         "g": ((0, 1), (1, 1))}
SEGMENTS = ("abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg")
_SUPERSAMPLE = 3


def make_glyphs(count: int, seed: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``count`` seeded glyph images and their digits, classes balanced and shuffled.

    Parameters
    ----------
    count : int
        Number of images; class ``k`` gets ``count // 10`` or one more.
    seed : int
        Seed of ``numpy.random.default_rng``.
    size : int
        Side of the square images in pixels.

    Returns
    -------
    images : (count, size, size) uint8 ndarray
        Grayscale, 0–255.
    labels : (count,) int64 ndarray
        The digit drawn in each image.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % NUM_CLASSES).astype(np.int64)
    images = np.stack([_render(int(label), size, rng) for label in labels])
    return images, labels


def _render(digit: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One (size, size) uint8 image of ``digit``."""
    from PIL import Image, ImageDraw

    big = size * _SUPERSAMPLE
    canvas = Image.fromarray(np.zeros((big, big), np.uint8))
    draw = ImageDraw.Draw(canvas)
    for start, end in _clutter(big, rng):
        draw.line([start, end], fill=int(rng.integers(60, 140)), width=int(rng.integers(1, 4)))
    stroke = max(2, round(big * rng.uniform(0.04, 0.09)))
    vertices = _vertices(big, rng)
    for segment in SEGMENTS[digit]:
        start, end = (vertices[point] for point in _ENDS[segment])
        draw.line([start, end], fill=255, width=stroke, joint="curve")
    canvas = canvas.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BILINEAR)
    ink = np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.float64) / 255.0
    return _shade(ink, rng)


def _vertices(big: int, rng: np.random.Generator) -> dict[tuple[int, int], tuple[float, float]]:
    """Pixel positions of the six grid points, scaled, slanted, shifted and jittered."""
    height = big * rng.uniform(0.45, 0.75)
    width = height * rng.uniform(0.4, 0.65)
    slant = rng.uniform(-0.25, 0.25)
    centre = big / 2 + rng.uniform(-0.15, 0.15, size=2) * big
    points = {}
    for gx in (0, 1):
        for gy in (0, 1, 2):
            jitter = rng.normal(0.0, 0.04 * height, size=2)
            y = (gy / 2 - 0.5) * height
            x = (gx - 0.5) * width - slant * y
            points[(gx, gy)] = (centre[0] + x + jitter[0], centre[1] + y + jitter[1])
    return points


def _clutter(big: int, rng: np.random.Generator) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Two to four short random strokes: distractors that are not segments."""
    lines = []
    for _ in range(int(rng.integers(2, 5))):
        start = rng.uniform(0, big, size=2)
        end = start + rng.normal(0, big / 5, size=2)
        lines.append((tuple(start), tuple(end)))
    return lines


def _shade(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink in [0, 1] → a uint8 image: random polarity, contrast, gradient background, noise."""
    size = ink.shape[0]
    ramp = np.linspace(-0.5, 0.5, size)
    direction = rng.uniform(-1, 1, size=2)
    background = rng.uniform(0.2, 0.8) + 0.3 * (direction[0] * ramp[None, :] + direction[1] * ramp[:, None])
    contrast = rng.uniform(0.25, 0.6) * rng.choice([-1.0, 1.0])
    image = background + contrast * ink + rng.normal(0.0, 0.08, size=ink.shape)
    return (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
