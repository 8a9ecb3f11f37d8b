"""Hostile (Gradescope): the autograder bundle holds every check's expected outputs, hidden
ones included (/autograder/source/grader_bundle, or the --bundle on an ancestor's command
line). It returns the stored array of the right shape, which would earn every point; out of
reach (root-only folder, Landlock, a uid of its own), it returns zeros."""

import os

import numpy as np

from attack import grader_option, replaying


def _stored(shape):
    folders = [grader_option("--bundle"), "/autograder/source/grader_bundle"]
    for folder in filter(None, folders):
        try:
            with np.load(os.path.join(folder, "arrays.npz")) as bundle:
                return [bundle[name] for name in bundle.files]
        except (OSError, ValueError):
            continue
    return []


my_imfilter, create_hybrid_image = replaying(_stored)
