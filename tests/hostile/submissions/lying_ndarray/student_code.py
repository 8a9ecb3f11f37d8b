"""Hostile: returns an ndarray subclass holding wrong data that claims equality with
everything: __eq__ is always True, allclose/array_equal/isclose answer True through
__array_function__ and __array_ufunc__ makes every ufunc return zeros."""

import numpy as np


class Liar(np.ndarray):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = None

    def __array_function__(self, func, types, args, kwargs):
        if func in (np.allclose, np.array_equal, np.array_equiv):
            return True
        if func is np.isclose:
            return np.ones(self.shape, dtype=bool)
        return super().__array_function__(func, types, args, kwargs)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(self.shape)

    def __bool__(self):
        return True


def _lie(shape):
    return (np.zeros(shape, dtype=np.float32) + 0.75).view(Liar)


def my_imfilter(image, filter):
    return _lie(np.shape(image))


def create_hybrid_image(image1, image2, filter):
    return _lie(np.shape(image1)), _lie(np.shape(image1)), _lie(np.shape(image1))
