"""Hostile (the grader): opens the memory of every process above it (/proc/PID/mem) for
writing — the grader's heap, where scores live. It does not write (the proof is the open);
it earns the right answers only when an ancestor's memory was open to it."""

from attack import ancestors, graded_if


def _opened():
    for pid in ancestors():
        try:
            with open(f"/proc/{pid}/mem", "r+b"):
                return True
        except OSError:
            continue
    return False


my_imfilter, create_hybrid_image = graded_if(_opened)
