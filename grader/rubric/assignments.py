"""Find an assignment: by name (``proj1_filtering``), by its folder (``my/``) or by a rubric
file (``my/rubric.yaml``), and its student kit.

An assignment is one folder::

    toy_stretch/
        rubric.yaml        what is graded and how (docs: the rubric reference)
        reference.py       the answer key, named by the rubric's ``reference:`` (the course's
                           four name modules of the ``reference`` package instead)
        kit/               what students get: stubs, README, provided files
        examples/          submissions to try the rubric on (one folder each)

The course's assignments are the folders of ``assignments/`` (found by name), beside
``assignments/environments/`` (the course environments they may name). One of your own can
be kept anywhere outside a student's reach: ``grader grade toy_stretch/ toy_stretch/examples/``
grades with it, and nothing in the grader is edited.
"""

from __future__ import annotations

from pathlib import Path

from grader import datapath
from grader.errors import GraderError

RUBRIC_FILE = "rubric.yaml"  # the rubric of an assignment folder
KIT_FOLDER = "kit"  # an assignment folder's student kit


def course_dir() -> Path:
    """The folder of the course's assignments, under the repository root as it is at the call."""
    return datapath.REPO_ROOT / "assignments"


def course_assignments() -> list[str]:
    """The names of the course's assignments (folders of :func:`course_dir` with a rubric)."""
    return sorted(p.parent.name for p in course_dir().glob(f"*/{RUBRIC_FILE}"))


def kit_dir(assignment: str) -> Path:
    """The folder of the course assignment ``assignment``'s student kit (stubs, README,
    provided files)."""
    return course_dir() / assignment / KIT_FOLDER


def kit_folder(rubric_file: Path, assignment: str) -> Path:
    """The kit of the assignment whose rubric is ``rubric_file``: the ``kit/`` beside it, else
    the course assignment's of that name (a rubric file kept elsewhere, say for a test)."""
    return _kit(rubric_file.resolve().parent, assignment)


def kit_of(rubric) -> Path:
    """The kit folder of a loaded :class:`~grader.rubric.model.Rubric` (see :func:`kit_folder`;
    a rubric read from a bundle has no folder: the course's kit of its name)."""
    return _kit(rubric.folder, rubric.assignment)


def _kit(folder: Path | None, assignment: str) -> Path:
    beside = folder / KIT_FOLDER if folder is not None else None
    return beside if beside is not None and beside.is_dir() else kit_dir(assignment)


def is_assignment(where: str) -> bool:
    """Whether ``where`` names an assignment (rather than, say, a folder of code to check)."""
    path = Path(where)
    return (path.suffix in (".yaml", ".yml") or (path / RUBRIC_FILE).is_file()
            or (course_dir() / where / RUBRIC_FILE).is_file())


def rubric_path(assignment: str) -> Path:
    """The rubric file for ``assignment`` (a name, a rubric file or an assignment folder); a
    clear error listing the known names otherwise."""
    as_path = Path(assignment)
    if as_path.suffix in (".yaml", ".yml"):
        if not as_path.is_file():
            raise GraderError(f"rubric file {assignment} not found")
        return as_path
    if (as_path / RUBRIC_FILE).is_file():
        return as_path / RUBRIC_FILE
    candidate = course_dir() / assignment / RUBRIC_FILE
    if "/" not in assignment and candidate.is_file():
        return candidate
    known = ", ".join(course_assignments()) or "none"
    raise GraderError(f"unknown assignment {assignment!r}; known assignments: {known} "
                      f"(or pass an assignment folder holding {RUBRIC_FILE}, or a rubric .yaml)")
