"""Hostile: a bounded process flood. Forks 100 Python children that rename themselves and
sleep, and 100 exec'd `sleep` processes with a marker in argv[0], then sleeps itself. The
test checks that none of the 200 survives the timeout (at most 200: a broken limit must
not take the machine down)."""

import os
import time


def _flood(count=100):
    for index in range(count):
        try:
            pid = os.fork()
        except OSError:
            return
        if pid == 0:
            try:
                if index % 2:
                    os.execv("/bin/sleep", ["HOSTILE_MARKER_flood", "1000"])
                with open("/proc/self/comm", "w") as comm:
                    comm.write("HSTL_flood")
                time.sleep(1000)
            finally:
                os._exit(0)


def my_imfilter(image, filter):
    _flood(200)
    time.sleep(1000)


def create_hybrid_image(image1, image2, filter):
    return my_imfilter(image1, filter)
