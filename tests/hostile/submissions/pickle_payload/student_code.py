"""Hostile: returns objects whose unpickling (or pickling) would run a shell command that
creates a marker file. The boundary carries plain arrays only: they must be reported as
unsupported and never executed in the parent (the test checks the marker is absent)."""

import os

import numpy as np

MARKER = "/tmp/grader_hostile_pickle_executed"


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def my_imfilter(image, filter):
    return Payload()


def create_hybrid_image(image1, image2, filter):
    boxed = np.empty(np.shape(image1), dtype=object)
    boxed[...] = Payload()
    return boxed, [Payload()], {"payload": Payload()}
