"""Hostile: hangs at import time (the import has its own time limit)."""

import time

while True:
    time.sleep(0.05)


def my_imfilter(image, filter):
    return image


def create_hybrid_image(image1, image2, filter):
    return image1, image2, image1
