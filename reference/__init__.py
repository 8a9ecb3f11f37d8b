"""The answer key: reference implementations of every assignment, pure functions on numpy/torch.

This package never imports :mod:`grader`; the grader imports it, on the trusted side only,
to compute expected outputs. It is never shipped to students.
"""
