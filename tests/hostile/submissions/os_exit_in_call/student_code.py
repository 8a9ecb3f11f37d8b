"""Hostile: os._exit(0) inside the call, skipping every handler, with a forged report."""

import os


def my_imfilter(image, filter):
    os.write(1, b'{"score": 100, "status": "passed"}\n10 passed\n')
    os._exit(0)


def create_hybrid_image(image1, image2, filter):
    os._exit(0)
