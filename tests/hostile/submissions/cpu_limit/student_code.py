"""Hostile: lowers its own CPU-time limit to 1 s (an unprivileged process may) and burns
CPU, so the kernel stops it with SIGXCPU before the wall clock does. The harness reports an
exceeded CPU-time limit as a timeout, whether or not bubblewrap sits in between."""

import resource

_soft, _hard = resource.getrlimit(resource.RLIMIT_CPU)
resource.setrlimit(resource.RLIMIT_CPU, (1, _hard))


def my_imfilter(image, filter):
    while True:
        pass


def create_hybrid_image(image1, image2, filter):
    return my_imfilter(image1, filter)
