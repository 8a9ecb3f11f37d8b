"""Figures as self-contained ``data:image/png;base64,...`` URIs (no files, no network).

Two paths, both cheap enough for hundreds of reports:

- :func:`array_png`: an image array (grey, RGB, or scalar data through a matplotlib
  colormap) written straight to PNG; identical arrays are encoded once (a correct
  output equals the expected one, so most panels of a class repeat);
- :func:`figure_png`: a matplotlib figure drawn with the Agg backend (charts).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io

import matplotlib

matplotlib.use("Agg")  # before pyplot could ever be imported: reports never open windows

import numpy as np  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

PNG_PREFIX = "data:image/png;base64,"
_CACHE_SIZE = 4096


def png_uri(data: bytes) -> str:
    return PNG_PREFIX + base64.b64encode(data).decode("ascii")


def array_png(array: np.ndarray, cmap: str | None = None, vmin: float = 0.0,
              vmax: float = 1.0) -> str:
    """``(h, w)`` or ``(h, w, 3|4)`` values in ``[vmin, vmax]`` as a PNG data URI.

    With ``cmap`` a 2-D array is coloured by that matplotlib colormap; without,
    it is shown in grey. Non-finite values are drawn as 0.
    """
    array = np.ascontiguousarray(array, dtype=np.float32)
    key = hashlib.blake2b(array.tobytes(), digest_size=16)
    key.update(f"{array.shape}{cmap}{vmin!r}{vmax!r}".encode())
    return _encoded(key.hexdigest(), array, cmap, vmin, vmax)


_PNGS: dict[str, str] = {}


def _encoded(key: str, array: np.ndarray, cmap: str | None, vmin: float, vmax: float) -> str:
    found = _PNGS.get(key)
    if found is None:
        if len(_PNGS) >= _CACHE_SIZE:
            _PNGS.clear()
        found = _PNGS[key] = png_uri(_png_bytes(array, cmap, vmin, vmax))
    return found


def _png_bytes(array: np.ndarray, cmap: str | None, vmin: float, vmax: float) -> bytes:
    span = (vmax - vmin) or 1.0
    scaled = np.nan_to_num((array - vmin) / span, nan=0.0, posinf=1.0, neginf=0.0)
    scaled = np.clip(scaled, 0.0, 1.0)
    image: Image.Image
    if cmap is not None and scaled.ndim == 2:
        # a palette PNG: one byte a pixel, a third of the size of RGB for the same picture
        image = Image.fromarray(np.round(scaled * 255).astype(np.uint8), mode="L")
        image = image.convert("P")
        image.putpalette(_palette(cmap))
    elif scaled.ndim == 3:
        image = Image.fromarray(np.round(scaled[..., :3] * 255).astype(np.uint8), mode="RGB")
    else:
        image = Image.fromarray(np.round(scaled * 255).astype(np.uint8), mode="L")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _palette(cmap: str) -> list[int]:
    """The 256 RGB entries of a matplotlib colormap, flat, for a palette image."""
    return [value for colour in _lut(cmap) for value in colour]


def colormap_css(cmap: str, value: float) -> str:
    """The ``rgb(...)`` CSS colour of ``value`` in ``[0, 1]`` on a matplotlib colormap."""
    r, g, b = _lut(cmap)[int(round(min(max(float(value), 0.0), 1.0) * 255))]
    return f"rgb({r}, {g}, {b})"


@functools.cache
def _lut(cmap: str) -> tuple[tuple[int, int, int], ...]:
    """The colormap's 256 colours as ``(r, g, b)`` bytes (``colormaps[name]`` copies it)."""
    table = colormaps[cmap](np.linspace(0, 1, 256), bytes=True)[:, :3]
    return tuple((int(r), int(g), int(b)) for r, g, b in table)


def colormap_gradient_css(cmap: str, stops: int = 8) -> str:
    """A CSS ``linear-gradient`` of the colormap, for a colour-bar legend beside a heat-map."""
    colours = ", ".join(colormap_css(cmap, i / (stops - 1)) for i in range(stops))
    return f"linear-gradient(to right, {colours})"


def figure_png(figure: Figure, dpi: int = 72) -> str:
    """A matplotlib figure (Agg canvas) as a PNG data URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return png_uri(buffer.getvalue())


def new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas, never registered with pyplot (no global state, no leaks)."""
    return Figure(figsize=(width, height), dpi=72, layout=None)
