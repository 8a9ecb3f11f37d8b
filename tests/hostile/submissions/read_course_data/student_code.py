"""Hostile (course data): looks for the course's data folder (GRADER_DATA in an ancestor's
environment, or ../shared/data beside the repository) — where a labelled test set lies — and
earns the right answers only when it could read a file there."""

import os

from attack import grader_setting, graded_if


def _read_some():
    for folder in grader_setting("GRADER_DATA") + ["/work/shared/data"]:
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    with open(os.path.join(root, name), "rb") as handle:
                        handle.read(16)
                    return True
                except OSError:
                    continue
    return False


my_imfilter, create_hybrid_image = graded_if(_read_some)
