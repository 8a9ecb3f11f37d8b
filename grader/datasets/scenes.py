"""The 15-scene dataset (Lazebnik et al., CVPR 2006) as arrays, for proj4_cnn (the course's Project 6, CNN).

The images are read from the course data folder (never from the repository,
see :mod:`grader.datapath`), decoded once with Pillow, brought to the course's
input size exactly as the F18 notebook's transforms do (resize the shorter
side to ``size``, then centre-crop ``size × size``, grayscale) and cached as
an ``.npz`` under the grader cache folder (``GRADER_CACHE`` or
``~/.cache/cv-course-grader``), so later runs load it in well under a second.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader import datapath
from grader.prepare import sealed
from grader.datapath import course_file

__all__ = ["CLASSES", "SPLITS", "SceneSplit", "load_scenes", "resize_and_crop"]

RELATIVE = "proj6/15scene"
SPLITS = ("train", "test")
CLASSES = ("Bedroom", "Coast", "Forest", "Highway", "Industrial", "InsideCity", "Kitchen",
           "LivingRoom", "Mountain", "Office", "OpenCountry", "Store", "Street", "Suburb",
           "TallBuilding")


@dataclass(frozen=True)
class SceneSplit:
    """One split of 15-scene.

    Attributes
    ----------
    images : (N, size, size) uint8 ndarray
        Grayscale pixels, 0–255.
    labels : (N,) int64 ndarray
        Class indices into :data:`CLASSES` (sorted folder names, as ``ImageFolder`` assigns).
    classes : tuple of str
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...] = CLASSES


def load_scenes(split: str, size: int = 64) -> SceneSplit:
    """Load ``split`` (``"train"``: 2985 images, ``"test"``: 1500) at ``size × size`` pixels.

    Raises
    ------
    grader.datapath.CourseDataMissing
        Without the course data (one sentence naming ``GRADER_DATA``).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = course_file(RELATIVE)
    cached = _cache_path(root, split, size)
    stored = sealed.read(cached)
    if stored is not None:
        with np.load(io.BytesIO(stored), allow_pickle=False) as bundle:
            return SceneSplit(bundle["images"], bundle["labels"])
    images, labels = _decode_split(root / split, size)
    _store(cached, images, labels)
    return SceneSplit(images, labels)


def resize_and_crop(image, size: int) -> np.ndarray:
    """A Pillow image as (size, size) uint8 grayscale: shorter side to ``size``, centre crop.

    The F18 notebook's ``Resize(max(input_size))`` then ``CenterCrop(input_size)``
    (bilinear, as torchvision's default), then ``Grayscale``.
    """
    from PIL import Image

    gray = image.convert("L")
    width, height = gray.size
    scale = size / min(width, height)
    new_size = (max(size, round(width * scale)), max(size, round(height * scale)))
    resized = gray.resize(new_size, Image.Resampling.BILINEAR)
    left, top = (new_size[0] - size) // 2, (new_size[1] - size) // 2
    return np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.uint8)


def _decode_split(folder: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    images, labels = [], []
    for label, name in enumerate(CLASSES):
        for path in sorted((folder / name).glob("*.jpg")):
            with Image.open(path) as handle:
                images.append(resize_and_crop(handle, size))
            labels.append(label)
    if not images:
        raise FileNotFoundError(f"no images under {folder}/<Class>/*.jpg")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def _cache_path(root: Path, split: str, size: int) -> Path:
    """The cache file, keyed by the data folder's listing (names and sizes) so new data re-decodes."""
    digest = hashlib.sha256()
    for path in sorted((root / split).glob("*/*.jpg")):
        digest.update(f"{path.relative_to(root)}:{path.stat().st_size}".encode())
    return datapath.state_root() / "datasets" / f"15scene-{split}-{size}-{digest.hexdigest()[:12]}.npz"


def _store(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels)
    try:
        sealed.write(path, buffer.getvalue())
    except OSError:
        pass  # a read-only cache only costs decoding again
