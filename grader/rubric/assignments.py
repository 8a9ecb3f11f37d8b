"""Find an assignment's rubric by name (``proj1_filtering``) or by path (``my/rubric.yaml``), and its kit."""

from __future__ import annotations

from pathlib import Path

from grader import datapath
from grader.datapath import REPO_ROOT
from grader.errors import GraderError

RUBRICS_DIR = REPO_ROOT / "rubrics"


def kit_dir(assignment: str) -> Path:
    """The folder of ``assignment``'s student kit (stubs, README, provided files), under the
    repository root as it is at the call."""
    return datapath.REPO_ROOT / "assignments" / assignment


def rubric_path(assignment: str) -> Path:
    """The rubric file for ``assignment``; a clear error listing the known names otherwise."""
    as_path = Path(assignment)
    if as_path.suffix in (".yaml", ".yml"):
        if not as_path.is_file():
            raise GraderError(f"rubric file {assignment} not found")
        return as_path
    candidate = RUBRICS_DIR / f"{assignment}.yaml"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.stem for p in RUBRICS_DIR.glob("*.yaml"))) or "none"
    raise GraderError(f"unknown assignment {assignment!r}; known assignments: {known} "
                      "(or pass the path of a rubric .yaml)")
