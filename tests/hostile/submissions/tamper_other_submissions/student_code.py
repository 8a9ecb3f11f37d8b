"""Hostile (other students): looks for the other submissions graded beside it — in the
grader's temp folders and the folder its own copy sits in — and leaves a file in one (a
student who can do that can overwrite another's code and have it graded 0 under its own
hash). It earns the right answers only when it could write beside another submission."""

import glob
import os
import tempfile

from attack import grader_setting, graded_if

NAME = "grader_hostile_tampered"
HERE = os.path.dirname(os.path.abspath(__file__))


def _folders():
    """Folders of the grader's temp files: other submissions live there (not our own copy)."""
    roots = grader_setting("TMPDIR") + [tempfile.gettempdir(), "/tmp", "/var/tmp"]
    found = [os.path.dirname(os.path.dirname(HERE))]  # where our own copy was put
    for root in dict.fromkeys(roots):
        found += glob.glob(os.path.join(root, "grader-*"))
        found += glob.glob(os.path.join(root, "grader-*", "*"))
    own = {HERE, os.path.dirname(HERE)}
    return [folder for folder in found if os.path.isdir(folder) and folder not in own]


def _tampered():
    for folder in _folders():
        try:
            with open(os.path.join(folder, NAME), "w") as handle:
                handle.write("another student was here\n")
            return True
        except OSError:
            continue
    return False


my_imfilter, create_hybrid_image = graded_if(_tampered)
