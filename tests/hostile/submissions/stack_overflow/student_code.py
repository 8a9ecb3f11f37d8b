"""Hostile: lifts the recursion limit and recurses until the C stack overflows (SIGSEGV)."""

import sys

sys.setrecursionlimit(10**8)


def _down(n):
    # through map(), every level also recurses in C: the C stack overflows (SIGSEGV)
    return list(map(_down, [n + 1]))


def my_imfilter(image, filter):
    return _down(0)


def create_hybrid_image(image1, image2, filter):
    return _down(0)
