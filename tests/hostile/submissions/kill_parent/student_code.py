"""Hostile (the grader): SIGKILLs its parent, every ancestor (the warm worker's zygote among
them; the grader when it is one), and init, to stop the whole batch. Its parent is
the sandbox's supervisor, which the student's uid, the seccomp filter or Landlock's signal
scope protect; the zygote and the grader's processes likewise (under bubblewrap the grader's
are not even visible). Not run with resource limits only: there it would stop the batch,
which is the point of the layers."""

import os
import signal

from attack import ancestors, zeros_after


def _kill_parents():
    targets = {os.getppid(), 1, *ancestors()}
    for target in targets:
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass


my_imfilter, create_hybrid_image = zeros_after(_kill_parents)
