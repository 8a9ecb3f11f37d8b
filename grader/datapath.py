"""Where the course's own data lives (never inside the repository).

The real course images have unclear redistribution rights, so the harness reads
them from a folder the user names and never copies them. Resolution order:

1. the folder the running task names (:mod:`grader.context`: a batch's, on every worker);
2. the ``GRADER_DATA`` environment variable (``grader --data DIR`` sets it);
3. ``../shared/data`` beside the repository (where tests and CI find it).

When neither exists, checks and tests that need course data are skipped with
a one-line reason; everything else runs on generated or bundled data.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader import context

ENV_VAR = "GRADER_DATA"
CACHE_ENV = "GRADER_CACHE"
REPO_ROOT = Path(__file__).resolve().parents[1]
_DEFAULT = REPO_ROOT.parent / "shared" / "data"


class CourseDataMissing(FileNotFoundError):
    """A course data file is not available on this machine."""


def course_data_dir() -> Path | None:
    """The course data root folder, or ``None`` when none is configured or present."""
    configured = context.current().data_dir or os.environ.get(ENV_VAR)
    candidate = Path(configured).expanduser() if configured else _DEFAULT
    return candidate if candidate.is_dir() else None


def course_file(relative: str) -> Path:
    """Absolute path of ``relative`` (e.g. ``"proj1/1a_dog.bmp"``) under the data root.

    Raises
    ------
    CourseDataMissing
        With one sentence that names the file and how to provide it.
    """
    root = course_data_dir()
    path = root / relative if root else None
    if path is None or not path.exists():
        raise CourseDataMissing(
            f"course data file {relative!r} not found; set {ENV_VAR} to the folder "
            "that holds the course data (see README, 'Course data')"
        )
    return path


def state_root() -> Path:
    """The grader's private state folder (``GRADER_CACHE``, else ``~/.cache/cv-course-grader``).

    Created with mode 0700, and made so if it is this user's and open to others: it holds
    the expected outputs (the answers to hidden checks) and the key that seals them.
    """
    base = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "cv-course-grader")
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = base.stat()
    if info.st_uid == os.geteuid() and info.st_mode & 0o077:
        base.chmod(0o700)
    return base


def cache_dir() -> Path:
    """Where prepared expected outputs are cached (``<state_root>/prepared``)."""
    return state_root() / "prepared"
