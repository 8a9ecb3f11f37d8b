"""Hostile: ignores SIGTERM, SIGINT, SIGHUP and SIGALRM, then sleeps for ever (no CPU use,
so only the parent's wall-clock limit and a SIGKILL can end it)."""

import signal
import time

for _name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGALRM", "SIGUSR1", "SIGXCPU"):
    signal.signal(getattr(signal, _name), signal.SIG_IGN)


def my_imfilter(image, filter):
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write("HSTL_sleeper")
    except OSError:
        pass
    while True:
        time.sleep(1000)


def create_hybrid_image(image1, image2, filter):
    return my_imfilter(image1, filter)
