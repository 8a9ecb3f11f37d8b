"""The preparation stage: inputs and expected outputs, computed once by the reference.

:mod:`~grader.prepare.expected` runs the reference on each case's generated inputs and
caches the result (:mod:`~grader.prepare.array_refs`, sealed by :mod:`~grader.prepare.sealed`);
:mod:`~grader.prepare.prepared` is what a check kind receives.
"""
