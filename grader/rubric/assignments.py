"""Find an assignment: by name (``proj1_filtering``), by rubric file (``my/rubric.yaml``) or by
its folder (``my/``), and its student kit.

An assignment of your own is one folder, kept anywhere (never inside a student's reach)::

    toy_threshold/
        rubric.yaml        what is graded and how (docs: the rubric reference)
        reference.py       the answer key, named by the rubric's ``reference:``
        kit/               what students get: stubs, README, provided files
        examples/          submissions to try the rubric on (one folder each)

``grader grade toy_threshold/ toy_threshold/examples/`` grades with it; nothing else in the
grader is edited. The course's own four assignments keep their rubric in ``rubrics/NAME.yaml``
and their kit in ``assignments/NAME/``, and are found by name.
"""

from __future__ import annotations

from pathlib import Path

from grader import datapath
from grader.datapath import REPO_ROOT
from grader.errors import GraderError

RUBRICS_DIR = REPO_ROOT / "rubrics"
RUBRIC_FILE = "rubric.yaml"  # the rubric of an assignment folder
KIT_FOLDER = "kit"  # an assignment folder's student kit


def kit_dir(assignment: str) -> Path:
    """The folder of the course assignment ``assignment``'s student kit (stubs, README, provided
    files), under the repository root as it is at the call."""
    return datapath.REPO_ROOT / "assignments" / assignment


def kit_folder(rubric_file: Path, assignment: str) -> Path:
    """The kit of the assignment whose rubric is ``rubric_file``: the ``kit/`` beside it in an
    assignment folder, else the course assignment's (:func:`kit_dir`)."""
    beside = rubric_file.resolve().parent / KIT_FOLDER
    return beside if beside.is_dir() else kit_dir(assignment)


def kit_of(rubric) -> Path:
    """The kit folder of a loaded :class:`~grader.rubric.model.Rubric` (see :func:`kit_folder`)."""
    if rubric.folder is not None and (rubric.folder / KIT_FOLDER).is_dir():
        return rubric.folder / KIT_FOLDER
    return kit_dir(rubric.assignment)


def is_assignment(where: str) -> bool:
    """Whether ``where`` names an assignment (rather than, say, a folder of code to check)."""
    path = Path(where)
    return (path.suffix in (".yaml", ".yml") or (path / RUBRIC_FILE).is_file()
            or (RUBRICS_DIR / f"{where}.yaml").is_file())


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
    candidate = RUBRICS_DIR / f"{assignment}.yaml"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.stem for p in RUBRICS_DIR.glob("*.yaml"))) or "none"
    raise GraderError(f"unknown assignment {assignment!r}; known assignments: {known} "
                      f"(or pass an assignment folder holding {RUBRIC_FILE}, or a rubric .yaml)")
