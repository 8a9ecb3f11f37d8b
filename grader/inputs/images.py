"""Photographs: scikit-image's bundled photos, or images of the course data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from grader.datapath import course_file
from grader.inputs.registry import generator


def _from_course(params: dict[str, Any]) -> bool:
    """Whether the photo is the course's (``source: course:...``)."""
    return str(params.get("source", "")).startswith("course:")


def _label(params: dict[str, Any]) -> str:
    """The photo's name: ``astronaut`` for ``skimage:astronaut``."""
    return str(params["source"]).split(":", 1)[1]


@generator("image", label=_label, course_data=_from_course)
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
    """(H, W, 3) or (H, W) float64 in [0, 1] of ``source`` (see :func:`image`)."""
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
    """``pixels`` (H, W) or (H, W, C) resized bilinearly by ``scale``, plane by plane."""
    from PIL import Image

    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    planes = pixels[:, :, None] if pixels.ndim == 2 else pixels
    resized = [np.asarray(Image.fromarray(planes[:, :, c].astype(np.float32), mode="F")
                          .resize(size, Image.Resampling.BILINEAR)) for c in range(planes.shape[2])]
    out = np.stack(resized, axis=-1)
    return out[:, :, 0] if pixels.ndim == 2 else out
