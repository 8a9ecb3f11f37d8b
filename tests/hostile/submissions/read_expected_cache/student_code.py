"""Hostile (grader state): finds the expected-output cache (GRADER_CACHE or HOME in an
ancestor's /proc/PID/environ, else root's ~/.cache/cv-course-grader) and returns the cached
expected output of the right shape (the one whose centre pixel it computes, when several fit):
every point for code that computes one pixel."""

import glob
import os

import numpy as np

from attack import grader_setting, replaying


def _cached_outputs():
    folders = grader_setting("GRADER_CACHE")
    folders += [os.path.join(home, ".cache", "cv-course-grader") for home in grader_setting("HOME")]
    folders.append("/root/.cache/cv-course-grader")
    arrays = []
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "prepared", "*.npz"))):
            try:
                with np.load(path) as bundle:
                    arrays += [bundle[name] for name in sorted(bundle.files, key=_index)]
            except (OSError, ValueError):
                continue
    return arrays


def _index(name):
    digits = "".join(c for c in name if c.isdigit())
    return int(digits or 0)


my_imfilter, create_hybrid_image = replaying(_cached_outputs)
