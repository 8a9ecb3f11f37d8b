"""Honest and correct, but slow: each call computes for 1.5 CPU-seconds (half its 3 s
limit) before it answers, as loop-based student code does. Alone it earns 7/7; beside a
neighbour that starts a dozen busy processes it must earn 7/7 too. (The test puts the hostile
corpus's attack.py beside it: its right answers.)"""

import time

from attack import graded_if

_filter, _hybrid = graded_if(lambda: True)


def _think(seconds=1.5):
    end = time.process_time() + seconds
    total = 0
    while time.process_time() < end:
        total += sum(range(1000))
    return total


def my_imfilter(image, filter):
    _think()
    return _filter(image, filter)


def create_hybrid_image(image1, image2, filter):
    _think()
    return _hybrid(image1, image2, filter)
