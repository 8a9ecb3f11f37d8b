"""Image pairs for feature matching (proj2): the course's pairs and synthetic HPatches-style ones.

The pairs are loaded by :mod:`grader.datasets.feature_pairs` and kept (a few at a time), so
the images and the ground truth of one pair are read once for all the checks on it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from grader.inputs.registry import generator


@generator("pair_image", course_data=True)
def pair_image(pair: str, which: str) -> np.ndarray:
    """Image ``which`` (``a`` or ``b``) of a course pair, as the F18 notebook loads it.

    ``pair`` is ``notre_dame``, ``mount_rushmore`` or ``sydney_opera_house``;
    the result is the (H, W) float32 grey image in [0, 1] at the working scale
    0.5 (see :func:`grader.datasets.feature_pairs.load_course_pair`). Raises
    :class:`grader.datapath.CourseDataMissing` without the course data.
    """
    return _pair_side(course_pair(pair), which)


@generator("pair_ground_truth", course_data=True)
def pair_ground_truth(pair: str) -> np.ndarray:
    """(G, 4) float64 ground truth ``x1, y1, x2, y2`` of a course pair, full-resolution pixels."""
    return _ground_truth(course_pair(pair))


@generator("synthetic_pair_image")
def synthetic_pair_image(name: str, which: str, seed: int = 0) -> np.ndarray:
    """Image ``which`` (``a``/``b``) of a synthetic HPatches-style pair of the photo ``name``.

    See :func:`grader.datasets.feature_pairs.synthetic_pair`; needs no course data.
    """
    return _pair_side(synthetic_pair(name, seed), which)


@generator("synthetic_pair_ground_truth")
def synthetic_pair_ground_truth(name: str, seed: int = 0) -> np.ndarray:
    """(G, 4) float64 ground truth ``x1, y1, x2, y2`` of a synthetic pair (notional full resolution)."""
    return _ground_truth(synthetic_pair(name, seed))


def _pair_side(pair: Any, which: str) -> np.ndarray:
    """A copy of ``pair``'s image ``a`` or ``b``: (H, W) float32 in [0, 1]."""
    if which not in ("a", "b"):
        raise ValueError(f"which must be 'a' or 'b', got {which!r}")
    return (pair.image_a if which == "a" else pair.image_b).copy()


def _ground_truth(pair: Any) -> np.ndarray:
    """(G, 4) columns ``x1, y1, x2, y2`` (x = column, y = row) of ``pair``'s ground truth."""
    return np.stack([pair.ground_truth[k] for k in ("x1", "y1", "x2", "y2")], axis=1)


@functools.lru_cache(maxsize=4)
def course_pair(name: str) -> Any:
    """The course pair ``name``, loaded once (``course_pair.cache_clear()`` forgets it)."""
    from grader.datasets.feature_pairs import load_course_pair

    return load_course_pair(name)


@functools.lru_cache(maxsize=8)
def synthetic_pair(name: str, seed: int) -> Any:
    """The synthetic pair of the photo ``name`` warped with ``seed``, made once."""
    from grader.datasets.feature_pairs import synthetic_pair as make

    return make(name, seed)
