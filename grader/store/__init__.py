"""The gradebook store: results, their history, overrides, extensions and late policy.

:class:`~grader.store.gradebook.Gradebook` is the one API over the SQLite file; the
effective grade is the autograded result with :mod:`~grader.store.overrides` and
:mod:`~grader.store.late` applied (extensions from :mod:`~grader.store.extensions`).
The CLI, the reports, the exports and a web application all read grades through it.
"""
