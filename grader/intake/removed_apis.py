"""Library APIs that 2016-2019 course code imports and today's libraries no longer have.

numpy's removed names have their own shim and course environment (:mod:`grader.worker.compat`,
:mod:`grader.checks._old_apis`); this is everything else the course's code and its students
reached for, each with what became of it. One table serves both sides of a grading:

- lifting a notebook (:mod:`grader.intake.ipynb`) names, in the result's notes, an import that
  fails for one of these reasons before any code runs;
- a check whose student code raised the error (``ImportError: cannot import name 'imresize'
  from 'scipy.misc'``, ``AttributeError: module 'scipy.misc' has no attribute 'imread'``, ``No
  module named 'skimage.filter'``) says why and what would run it (:func:`explain`).

Where the course used them:

- ``scipy.misc.imread``, ``imresize``, ``imsave``: CS231n's starter code of 2016-2018, which
  proj3_backprop follows (``cs231n/data_utils.py`` loads images with ``scipy.misc.imread``,
  assignment 2's ``ConvolutionalNetworks.ipynb`` reads and resizes its kitten and puppy with
  ``from scipy.misc import imread, imresize``, assignment 3's ``image_utils.py`` the same), and
  F18 students loading or resizing images in proj1 and proj2 notebooks (the F18 starter itself
  uses ``cv2.imread``). Removed in SciPy 1.3.0 with the rest of scipy.misc's image functions;
  SciPy 1.2, the last that has them, installs only on Python 3.7 or older, so no course
  environment of this harness (Python 3.11+) can run them.
- The others (``scipy.ndimage.imread``, scipy.misc's aliases of scipy.special, scikit-image's
  ``compare_*`` and renamed modules, OpenCV 2's ``cv2.cv``, the contrib-only
  ``cv2.xfeatures2d``, torchvision's ``Scale``, ``sklearn.cross_validation``) are not in the
  course's own code: they are what 2018-era computer-vision code outside it called, and what
  students copied from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OLD_SCIPY = ("no course environment runs it (SciPy 1.2, the last with it, needs Python 3.7 or "
              "older)")


@dataclass(frozen=True)
class Gone:
    """What became of an API: removed (``instead`` does its work, ``runs`` says what would run
    the old one) or moved (``instead`` is its new name)."""

    instead: str
    since: str = ""  # the release without it ("SciPy 1.3.0"), where known
    moved: bool = False
    runs: str = "no course environment has it"
    said: str = ""  # the whole clause after the name, where the others do not fit

    def text(self, name: str) -> str:
        """One clause about ``name``: what became of it and what to use."""
        if self.said:
            return f"{name} {self.said}"
        if self.moved:
            return f"{name} moved to {self.instead}; the old name is gone" + (
                f" since {self.since}" if self.since else "")
        return f"{name} was removed in {self.since}; {self.runs}: use {self.instead}"

    def brief(self, name: str) -> str:
        """What became of ``name``, without the advice (for a list of imports)."""
        if self.said:
            return f"{name} {self.said.split(':')[0]}"
        if self.moved:
            return f"{name} moved to {self.instead}"
        return f"{name} was removed in {self.since}"


def _scipy_image(instead: str) -> Gone:
    return Gone(instead, "SciPy 1.3.0", runs=_OLD_SCIPY)


def _moved(new: str, since: str = "") -> Gone:
    return Gone(new, since, moved=True)


REMOVED: dict[str, Gone] = {
    "scipy.misc.imread": _scipy_image("imageio.imread (or matplotlib.pyplot.imread)"),
    "scipy.misc.imresize": _scipy_image("skimage.transform.resize (or PIL's Image.resize; "
                                        "imresize also scaled to uint8 0-255)"),
    "scipy.misc.imsave": _scipy_image("imageio.imwrite"),
    "scipy.misc.imshow": _scipy_image("matplotlib.pyplot.imshow"),
    "scipy.misc.imrotate": _scipy_image("skimage.transform.rotate"),
    "scipy.misc.imfilter": _scipy_image("PIL's ImageFilter"),
    "scipy.misc.toimage": _scipy_image("PIL's Image.fromarray"),
    "scipy.misc.fromimage": _scipy_image("np.asarray(image)"),
    "scipy.misc.bytescale": _scipy_image("scaling to 0-255 by hand"),
    "scipy.ndimage.imread": _scipy_image("imageio.imread"),
    **{f"scipy.misc.{name}": _moved(f"scipy.special.{name}", "SciPy 1.3.0")
       for name in ("comb", "factorial", "factorial2", "factorialk", "logsumexp")},
    **{f"scipy.misc.{name}": _moved(f"scipy.datasets.{name}", "SciPy 1.12")
       for name in ("face", "ascent", "electrocardiogram")},
    "skimage.measure.compare_ssim": _moved("skimage.metrics.structural_similarity",
                                           "scikit-image 0.18"),
    "skimage.measure.compare_psnr": _moved("skimage.metrics.peak_signal_noise_ratio",
                                           "scikit-image 0.18"),
    "skimage.measure.compare_mse": _moved("skimage.metrics.mean_squared_error",
                                          "scikit-image 0.18"),
    "skimage.measure.compare_nrmse": _moved("skimage.metrics.normalized_root_mse",
                                            "scikit-image 0.18"),
    "skimage.feature.register_translation": _moved(
        "skimage.registration.phase_cross_correlation", "scikit-image 0.19"),
    "skimage.feature.greycomatrix": _moved("skimage.feature.graycomatrix"),
    "skimage.feature.greycoprops": _moved("skimage.feature.graycoprops"),
    "skimage.filters.gaussian_filter": _moved("skimage.filters.gaussian"),
    "skimage.filter": _moved("skimage.filters"),
    "cv2.cv": Gone("cv2's own names (cv2.IMREAD_GRAYSCALE for cv2.cv.CV_LOAD_IMAGE_GRAYSCALE)",
                   "OpenCV 3.0"),
    **{f"cv2.CV_LOAD_IMAGE_{mode}": _moved(f"cv2.IMREAD_{mode}", "OpenCV 3.0")
       for mode in ("GRAYSCALE", "COLOR", "UNCHANGED")},
    "cv2.xfeatures2d": Gone("cv2.SIFT_create", said="is in opencv-contrib-python only, not in the "
                            "OpenCV the grader runs: SIFT is cv2.SIFT_create since OpenCV 4.4"),
    "torchvision.transforms.Scale": _moved("torchvision.transforms.Resize"),
    "torchvision.transforms.RandomSizedCrop": _moved("torchvision.transforms.RandomResizedCrop"),
    "sklearn.cross_validation": _moved("sklearn.model_selection", "scikit-learn 0.20"),
}

_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_NO_ATTRIBUTE = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def lookup(name: str) -> tuple[str, Gone] | None:
    """The entry for the dotted ``name`` or the nearest module above it (``cv2.cv.CV_AA`` finds
    ``cv2.cv``), as (the entry's name, what became of it); ``None`` for an API that is not gone."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in REMOVED:
            return key, REMOVED[key]
    return None


def explain(error: str) -> str | None:
    """Why ``error`` (an exception's text) comes from an API its library removed or moved, and
    what would run it; ``None`` for any other error."""
    found = _CANNOT_IMPORT.search(error)
    name = f"{found.group(2)}.{found.group(1)}" if found else None
    if name is None:
        found = _NO_ATTRIBUTE.search(error)
        name = f"{found.group(1)}.{found.group(2)}" if found else None
    if name is None:
        found = _NO_MODULE.search(error)
        name = found.group(1) if found else None
    entry = lookup(name) if name else None
    return entry[1].text(entry[0]) if entry else None
