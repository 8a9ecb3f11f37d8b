"""Hostile (grader state): finds the expected-output cache (GRADER_CACHE or HOME in an
ancestor's /proc/PID/environ, else root's ~/.cache/cv-course-grader) and returns the cached
expected output of the right shape (the one whose centre pixel it computes, when several fit):
every point for code that computes one pixel."""

import glob
import os
import zipfile

import numpy as np

from attack import grader_setting, replaying


def _cached_outputs(shape):
    """The cached arrays of ``shape``, reading every member's header and only the matching
    arrays (the cache of a whole test session holds hundreds of files)."""
    folders = grader_setting("GRADER_CACHE")
    folders += [os.path.join(home, ".cache", "cv-course-grader") for home in grader_setting("HOME")]
    folders.append("/root/.cache/cv-course-grader")
    arrays = []
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "prepared", "*.npz"))):
            try:
                arrays += _members_of_shape(path, shape)
            except (OSError, ValueError, zipfile.BadZipFile):
                continue
    return arrays


def _members_of_shape(path, shape):
    found = []
    with zipfile.ZipFile(path) as bundle:
        for name in sorted(bundle.namelist(), key=_index):
            with bundle.open(name) as member:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                if read_header(member)[0] != tuple(shape):
                    continue
            with bundle.open(name) as member:
                found.append(np.lib.format.read_array(member, allow_pickle=False))
    return found


def _index(name):
    digits = "".join(c for c in name if c.isdigit())
    return int(digits or 0)


my_imfilter, create_hybrid_image = replaying(_cached_outputs)
