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


def normal(shape: Sequence[int], seed: int, scale: float = 1.0, offset: float = 0.0,
           dtype: str = "float64") -> np.ndarray:
    """``offset`` plus standard normal samples times ``scale``, from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return (offset + scale * rng.standard_normal(size=tuple(shape))).astype(dtype)


def integers(shape: Sequence[int], seed: int, high: int, low: int = 0,
             dtype: str = "int64") -> np.ndarray:
    """Integers in ``[low, high)`` from ``default_rng(seed)``: class labels, or (as floats)
    arrays full of ties, e.g. for max-pooling."""
    return np.random.default_rng(seed).integers(low, high, size=tuple(shape)).astype(dtype)


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
                          .resize(size, Image.Resampling.BILINEAR)) for c in range(planes.shape[2])]
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
    "rot180": lambda a: np.ascontiguousarray(np.asarray(a)[..., ::-1, ::-1]),  # flip last two axes
}


# Generators whose values come from the course's own data (unclear rights: never in a kit),
# whatever their parameters; ``image`` does when its source is ``course:...``.
FROM_COURSE_DATA = {"pair_image", "pair_ground_truth", "scenes"}


def reads_course_data(spec: dict[str, Any]) -> bool:
    """Whether the value of ``spec`` derives from the course data: decided by the spec itself,
    never by what happened to be read (a cached pair is read once for many checks)."""
    (name, params), = spec.items()
    if name == "image":
        return str(params.get("source", "")).startswith("course:")
    return name in FROM_COURSE_DATA


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


# --- Project 2 (feature matching) ------------------------------------------------
# Appended as one block (functions, then their GENERATORS entries) so this section
# merges cleanly with edits elsewhere in the file.

import functools  # noqa: E402


def pair_image(pair: str, which: str) -> np.ndarray:
    """Image ``which`` (``a`` or ``b``) of a course pair, as the F18 notebook loads it.

    ``pair`` is ``notre_dame``, ``mount_rushmore`` or ``sydney_opera_house``;
    the result is the (H, W) float32 grey image in [0, 1] at the working scale
    0.5 (see :func:`grader.datasets.feature_pairs.load_course_pair`). Raises
    :class:`grader.datapath.CourseDataMissing` without the course data.
    """
    return _pair_side(_course_pair(pair), which)


def pair_ground_truth(pair: str) -> np.ndarray:
    """(G, 4) float64 ground truth ``x1, y1, x2, y2`` of a course pair, full-resolution pixels."""
    return _ground_truth(_course_pair(pair))


def synthetic_pair_image(name: str, which: str, seed: int = 0) -> np.ndarray:
    """Image ``which`` (``a``/``b``) of a synthetic HPatches-style pair of the photo ``name``.

    See :func:`grader.datasets.feature_pairs.synthetic_pair`; needs no course data.
    """
    return _pair_side(_synthetic_pair(name, seed), which)


def synthetic_pair_ground_truth(name: str, seed: int = 0) -> np.ndarray:
    """(G, 4) float64 ground truth ``x1, y1, x2, y2`` of a synthetic pair (notional full resolution)."""
    return _ground_truth(_synthetic_pair(name, seed))


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
    from scipy import ndimage

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
    return ndimage.gaussian_filter(out, blur).astype(np.float32)


def disc_and_square(shape: Sequence[int], radius: float, square: int,
                    square_contrast: float = 0.25, blur: float = 0.7) -> np.ndarray:
    """(H, W) float32: a bright disc (contrast 1) on the left, a faint square on the right.

    The disc's rim is a strong edge with no corner; the square's four corners
    are weak. A Harris response is negative along edges, so every correct
    detector ranks the square's corners first; one whose response is positive
    on edges (``det + alpha * trace²``, a negative alpha) ranks the rim first.
    """
    from scipy import ndimage

    height, width = shape
    rows, cols = np.mgrid[:height, :width]
    out = np.where(np.hypot(rows - height / 2, cols - width / 3) <= radius, 1.0, 0.0)
    top, left = height // 2 - square // 2, int(width * 0.8) - square // 2
    out[top : top + square, left : left + square] = square_contrast
    return ndimage.gaussian_filter(out, blur).astype(np.float32)


def ranked_descriptors(count: int, ambiguous: int, distractors: int, seed: int, which: str,
                       dim: int = 128) -> np.ndarray:
    """Descriptors whose best matches are known *in order*, plus ambiguous ones.

    Row ``i < count`` of ``a`` matches row ``i`` of ``b``: a noisy copy whose
    noise grows with ``i`` (0.02 to 0.08 per unit vector), so its distance
    ratio and the reference's confidence fall with ``i``. Each of the next
    ``ambiguous`` rows of ``a`` has *two* near copies in ``b`` (noise 0.015):
    nearer than any true match, but with a distance ratio near 1, so the
    ratio test rejects them while a matcher that ranks by the nearest
    distance alone (or misreads the second-nearest) puts them first. The
    remaining rows are unrelated random unit vectors.
    """
    rng = np.random.default_rng(seed)
    unit = lambda v: (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    a = unit(rng.standard_normal((count + ambiguous + distractors, dim)))
    b = unit(rng.standard_normal((count + 2 * ambiguous + distractors, dim)))
    noise = np.linspace(0.02, 0.08, count)[:, None]
    b[:count] = unit(a[:count] + noise * rng.standard_normal((count, dim)))
    twins = a[count : count + ambiguous]
    for copy in range(2):
        rows = slice(count + copy * ambiguous, count + (copy + 1) * ambiguous)
        b[rows] = unit(twins + 0.015 * rng.standard_normal(twins.shape))
    return a if which == "a" else b


def planted_descriptors(count: int, distractors: int, seed: int, which: str,
                        dim: int = 128, noise: float = 0.05) -> np.ndarray:
    """Descriptors with known matches: ``a`` is (count + distractors, dim), ``b`` (count + distractors, dim).

    Rows ``0 .. count-1`` of ``a`` match row ``(i * 7 + 3) % count`` of ``b``
    (a noisy copy, noise ``noise`` per unit vector); the remaining rows of
    both are unrelated random unit vectors, whose nearest-neighbour distance
    ratio is close to 1 so every ratio test rejects them.
    """
    rng = np.random.default_rng(seed)
    unit = lambda a: (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    a = unit(rng.standard_normal((count + distractors, dim)))
    b = unit(rng.standard_normal((count + distractors, dim)))
    targets = (np.arange(count) * 7 + 3) % count
    b[targets] = unit(a[:count] + noise * rng.standard_normal((count, dim)))
    return a if which == "a" else b


def _pair_side(pair: Any, which: str) -> np.ndarray:
    if which not in ("a", "b"):
        raise ValueError(f"which must be 'a' or 'b', got {which!r}")
    return (pair.image_a if which == "a" else pair.image_b).copy()


def _ground_truth(pair: Any) -> np.ndarray:
    return np.stack([pair.ground_truth[k] for k in ("x1", "y1", "x2", "y2")], axis=1)


@functools.lru_cache(maxsize=4)
def _course_pair(name: str) -> Any:
    from grader.datasets.feature_pairs import load_course_pair

    return load_course_pair(name)


@functools.lru_cache(maxsize=8)
def _synthetic_pair(name: str, seed: int) -> Any:
    from grader.datasets.feature_pairs import synthetic_pair

    return synthetic_pair(name, seed)


GENERATORS.update({
    "pair_image": pair_image,
    "pair_ground_truth": pair_ground_truth,
    "synthetic_pair_image": synthetic_pair_image,
    "synthetic_pair_ground_truth": synthetic_pair_ground_truth,
    "rectangles": rectangles,
    "disc_and_square": disc_and_square,
    "planted_descriptors": planted_descriptors,
    "ranked_descriptors": ranked_descriptors,
})


# --- proj4_cnn (the course's Project 6: CNN scene recognition) ------------------------------------------
# Appended as one block (functions, then their GENERATORS entries).

def scenes(split: str, part: str, size: int = 64) -> np.ndarray:
    """15-scene ``split`` (``train``/``test``): ``part`` = ``images`` (N, size, size) uint8 or
    ``labels`` (N,) int64. Read from the course data (see :mod:`grader.datasets.scenes`)."""
    from grader.datasets.scenes import load_scenes

    data = load_scenes(split, size)
    return _dataset_part(data.images, data.labels, part)


def glyphs(part: str, count: int, seed: int, size: int = 32, gain: float = 1.0) -> np.ndarray:
    """Synthetic seven-segment digits (see :mod:`grader.datasets.glyphs`): ``part`` =
    ``images`` (count, size, size) uint8 or ``labels`` (count,) int64. ``gain``
    scales the pixels (e.g. a darker test split, with other statistics)."""
    images, labels = _glyph_set(count, seed, size)
    if part == "images" and gain != 1.0:
        images = np.clip(np.rint(images * float(gain)), 0, 255).astype(np.uint8)
    return _dataset_part(images, labels, part)


def _dataset_part(images: np.ndarray, labels: np.ndarray, part: str) -> np.ndarray:
    if part not in ("images", "labels"):
        raise ValueError(f"part must be 'images' or 'labels', got {part!r}")
    return (images if part == "images" else labels).copy()


@functools.lru_cache(maxsize=4)
def _glyph_set(count: int, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    from grader.datasets.glyphs import make_glyphs

    return make_glyphs(count, seed, size)


GENERATORS.update({
    "scenes": scenes,
    "glyphs": glyphs,
})
