"""Hostile: at import, replaces numpy's comparison functions and a few builtins with
liars, then returns wrong values. Scoring happens in the parent, which never sees them."""

import builtins

import numpy as np
import numpy.testing


def _true(*args, **kwargs):
    return True


def _silent(*args, **kwargs):
    return None


np.allclose = _true
np.array_equal = _true
np.array_equiv = _true
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.testing.assert_allclose = _silent
np.testing.assert_array_equal = _silent
np.testing.assert_array_almost_equal = _silent
numpy.testing.assert_equal = _silent
np.abs = np.absolute = lambda x, *args, **kwargs: np.zeros_like(x)
np.isfinite = lambda x, *args, **kwargs: np.ones(np.shape(x), dtype=bool)
np.any = lambda *args, **kwargs: False
builtins.abs = lambda x: 0
builtins.max = lambda *args, **kwargs: 0
builtins.all = lambda iterable: True


def my_imfilter(image, filter):
    return np.zeros(np.shape(image), dtype=np.float32) + 0.25


def create_hybrid_image(image1, image2, filter):
    wrong = np.zeros(np.shape(image1), dtype=np.float32) + 0.25
    return wrong, wrong, wrong
