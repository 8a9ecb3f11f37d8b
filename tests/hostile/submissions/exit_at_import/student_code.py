"""Hostile: sys.exit(0) at import time, hoping a clean exit reads as success."""

import sys

print("10 passed")
sys.exit(0)


def my_imfilter(image, filter):
    return image


def create_hybrid_image(image1, image2, filter):
    return image1, image2, image1
