"""Autograding harness for the computer-vision course.

The grader loads a submission, runs the student's functions in a sandboxed
worker process, scores what comes back on the trusted side against expected
outputs computed once by the reference, records the result in a gradebook and
renders reports. See README.md and DESIGN.md for the architecture.
"""

__version__ = "0.1.0"


def check(*targets: str, path: str = "."):
    """Self-check from a notebook; see :func:`grader.kit.notebook.check`."""
    from grader.kit.notebook import check as run

    return run(*targets, path=path)
