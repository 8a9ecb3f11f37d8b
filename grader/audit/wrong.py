"""Wrong programs: plausible wrong student implementations, as a test of the rubric.

Mutants change the reference one token at a time; students write *other* wrong programs — no
ranking, no clipping, no normalisation, convolution for correlation, an off-by-one window, the
wrong axis. An assignment lists such programs in ``wrong_programs.yaml`` beside its rubric,
each with the property it breaks and the checks that are about that property::

    - name: convolution_for_correlation
      breaks: "flips the kernel: convolution, not the correlation the course asks for"
      must_lose: [correlation]
      module: student_code          # the student module it is written in
      source: |                     # appended to the reference module: a later def wins
        def my_imfilter(image, filter):
            return _reference_my_imfilter(image, filter[::-1, ::-1])

The reference's own version of each function it redefines stays callable under
``_reference_<name>``. The audit grades each program as a student submission and reports any
that keeps the points of a check it must lose (:class:`WrongOutcome`): the rubric cannot see
that mistake.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from grader.errors import GraderError
from grader.rubric.model import Rubric

FILE = "wrong_programs.yaml"


class WrongProgram(BaseModel):
    """One wrong program and what the rubric must make it lose."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str
    """an identifier (letters, digits, ``_``)"""
    breaks: str
    """the property it breaks, in words"""
    must_lose: list[str]
    """the checks about that property: each must cost it points"""
    module: str
    """the student module it is written in"""
    source: str
    """Python appended to the reference module (its functions replace the reference's)"""


@dataclass
class WrongOutcome:
    """A wrong program graded: ``kept`` are the checks of ``must_lose`` it kept full marks on."""

    name: str
    breaks: str
    must_lose: list[str]
    score: float
    max_score: float
    kept: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def caught(self) -> bool:
        return not self.kept and not self.error


def load(folder: Path | None, rubric: Rubric) -> list[WrongProgram]:
    """The wrong programs listed beside the rubric in ``folder`` (none without the file);
    one sentence for a program that names an unknown check or module."""
    path = folder / FILE if folder is not None else None
    if path is None or not path.is_file():
        return []
    try:
        programs = [WrongProgram.model_validate(item)
                    for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []]
    except (yaml.YAMLError, ValidationError, TypeError) as exc:
        raise GraderError(f"{path}: not a list of wrong programs ({str(exc).splitlines()[0]})") from None
    checks = {c.id for c in rubric.checks}
    for program in programs:
        unknown = [c for c in program.must_lose if c not in checks]
        if unknown:
            raise GraderError(f"{path}: {program.name} must lose {', '.join(unknown)}, which "
                              f"the rubric does not have")
        if program.module not in rubric.modules:
            raise GraderError(f"{path}: {program.name} is written in {program.module}, which "
                              f"the rubric does not grade ({', '.join(rubric.modules)})")
    return programs


def patched(reference: str, program: WrongProgram) -> str:
    """The reference module with ``program`` appended, the reference's versions of the functions
    it redefines kept as ``_reference_<name>``."""
    redefined = [node.name for node in ast.parse(program.source).body
                 if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    aliases = "".join(f"_reference_{name} = {name}\n" for name in redefined)
    return f"{reference}\n\n# --- wrong program: {program.name} ---\n{aliases}\n{program.source}"


def outcome(program: WrongProgram, graded: dict | BaseException) -> WrongOutcome:
    """What grading ``program`` (a result as a dict, or why it failed) says about the rubric."""
    if isinstance(graded, BaseException):
        return WrongOutcome(program.name, program.breaks, program.must_lose, 0.0, 0.0,
                            error=f"grading crashed: {graded}")
    checks = {c["id"]: c for c in graded["checks"]}
    unrun = [c for c in program.must_lose if c not in checks]
    if unrun:  # a check the audit leaves out (grader/audit/targets.py) cannot catch it
        return WrongOutcome(program.name, program.breaks, program.must_lose, graded["score"],
                            graded["max_score"], error=f"{', '.join(unrun)} not run by the audit")
    kept = [c for c in program.must_lose
            if checks[c]["score"] >= checks[c]["max_score"] - 1e-9]
    return WrongOutcome(program.name, program.breaks, program.must_lose, graded["score"],
                        graded["max_score"], kept)
