"""Hostile: dereferences a null pointer through ctypes (SIGSEGV in the worker)."""

import ctypes


def my_imfilter(image, filter):
    ctypes.memmove(8, b"boom", 4)  # write to an unmapped page


def create_hybrid_image(image1, image2, filter):
    ctypes.memset(0, 0, 1)
