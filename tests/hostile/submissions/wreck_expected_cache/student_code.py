"""Hostile (grader state): overwrites every cached expected output it can find with zeros of
the same shape, so that later gradings would expect zeros (full marks for doing nothing, zero
for correct code). It returns zeros itself. The cache is out of reach when isolated; where it
is not (rlimits only), its seal makes the grader recompute it instead of believing it."""

import glob
import os

import numpy as np

from attack import grader_setting, zeros_after


def _poison():
    folders = grader_setting("GRADER_CACHE") + ["/root/.cache/cv-course-grader"]
    for folder in folders:
        for path in glob.glob(os.path.join(folder, "prepared", "*.npz")):
            try:
                with np.load(path) as bundle:
                    zeros = {name: np.zeros_like(bundle[name]) for name in bundle.files}
                with open(path, "wb") as handle:
                    np.savez(handle, **zeros)
            except (OSError, ValueError):
                continue


my_imfilter, create_hybrid_image = zeros_after(_poison)
