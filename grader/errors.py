"""Errors a user can cause: each carries one sentence that names the thing and the fix."""


class GraderError(Exception):
    """A problem with the user's input (rubric, archive, flag, path); shown without a traceback."""


class RubricError(GraderError):
    """The rubric file is invalid; the message names the file, the line and the field."""


class SubmissionError(GraderError):
    """The submission cannot be loaded (bad archive, escaping path, too large)."""
