"""Hostile: returns objects that are not arrays but pretend to be: one whose __array__
gives wrong data, one whose __array__ raises, and one whose __len__/__getitem__ lie."""

import numpy as np


class WrongArray:
    def __init__(self, shape):
        self.shape = shape

    def __array__(self, dtype=None, copy=None):
        return np.zeros(self.shape, dtype=np.float32)

    def __eq__(self, other):
        return True


class Explodes:
    def __array__(self, dtype=None, copy=None):
        raise SystemExit(0)

    def __len__(self):
        raise KeyboardInterrupt


class Endless:
    def __len__(self):
        return 10**12

    def __getitem__(self, index):
        return Endless()


def my_imfilter(image, filter):
    return WrongArray(np.shape(image)) if np.shape(filter)[0] == 3 else Explodes()


def create_hybrid_image(image1, image2, filter):
    return Endless(), Explodes(), WrongArray(np.shape(image1))
