"""Errors a user can cause: each carries one sentence that names the thing and the fix."""


class GraderError(Exception):
    """A problem with the user's input (rubric, archive, flag, path); shown without a traceback."""


class RubricError(GraderError):
    """The rubric file is invalid; the message names the file, the line and the field."""


class SubmissionError(GraderError):
    """The submission cannot be loaded (bad archive, escaping path, too large)."""


def size_text(n_bytes: int) -> str:
    """A size as a sentence names it: ``"1.4 MiB"``, ``"12 KiB"``, ``"800 bytes"``."""
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n_bytes >= 1 << shift:
            return f"{n_bytes / (1 << shift):.3g} {unit}"
    return f"{n_bytes} bytes"
