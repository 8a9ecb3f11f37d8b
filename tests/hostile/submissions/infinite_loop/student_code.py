"""Hostile: an infinite loop in the call (burns CPU until the parent's wall clock kills it)."""


def _mark():
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write("HSTL_loop")
    except OSError:
        pass


def my_imfilter(image, filter):
    _mark()
    while True:
        pass


def create_hybrid_image(image1, image2, filter):
    low = my_imfilter(image1, filter)
    return low, image2 - my_imfilter(image2, filter), low
