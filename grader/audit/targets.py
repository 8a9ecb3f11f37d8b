"""The audit's view of an assignment: which reference file stands for which student module
(the rubric's ``reference:``, the one mapping) and the audit's own settings per assignment.

A mutant submission is a reference module with one change, written under the
student module's name (``reference/filtering.py`` → ``student_code.py``).
The functions mutated are those the student kit declares in that module (its
stubs in the assignment's ``kit/``), plus the helpers they call.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader.rubric.assignments import kit_of, rubric_path
from grader.datapath import REPO_ROOT
from grader.errors import GraderError

REFERENCE_DIR = REPO_ROOT / "reference"
VARIANTS_DIR = REPO_ROOT / "tests" / "variants"


@dataclass(frozen=True)
class AuditTarget:
    """One assignment's mapping, its default sample size (``None``: every mutant) and its limits.

    ``provided``: reference helpers the kit hands students (never mutated).
    ``left_out``: checks the audit does not run, each with the reason, said in
    every report. ``check_timeout_s``: the default cap on a check's time limit
    while grading mutants (training checks need more than the usual 20 s).
    """

    modules: dict[str, str] = field(default_factory=dict)  # student module → reference file stem
    max_mutants: int | None = None
    provided: frozenset[str] = frozenset()
    left_out: dict[str, str] = field(default_factory=dict)
    check_timeout_s: float | None = None
    reference_dir: Path = REFERENCE_DIR  # where the reference files (stems above) lie
    kit: Path | None = None  # the student kit's folder: its stubs say what is graded

    def source(self, stem: str) -> str:
        """The text of the reference file ``stem``."""
        return (self.reference_dir / f"{stem}.py").read_text(encoding="utf-8")


# the audit's own settings; which reference module answers which student module is the
# rubric's (``reference:``), read by :func:`target_for`
TARGETS: dict[str, AuditTarget] = {
    "proj4_cnn": AuditTarget(
        max_mutants=40, provided=frozenset({"get_mean_std"}),  # the course's utils.py
        left_out={"train_15scene": "300 CPU-seconds of training per mutant; train_glyphs trains "
                                   "the same code on synthetic digits in 60"},
        check_timeout_s=120.0),
}

_REFERENCE_IMPORT = re.compile(r"^(\s*)from reference\.(\w+) import", re.MULTILINE)


def target_for(assignment: str) -> AuditTarget:
    """The audit's settings for ``assignment`` (a name or an assignment folder), with the
    rubric's student → reference modules: files beside the rubric in an assignment folder, or
    modules of the course's ``reference/``."""
    from grader.rubric.load import load_rubric

    rubric, _ = load_rubric(rubric_path(assignment))
    wanted = rubric.reference_modules
    folder = rubric.folder
    if folder is not None and all((folder / f"{r}.py").is_file() for r in wanted.values()):
        modules, reference_dir = dict(wanted), folder
    else:
        strays = {m: r for m, r in wanted.items() if not r.startswith("reference.")}
        if strays:
            module, reference = next(iter(strays.items()))
            raise GraderError(f"{assignment}: the audit mutates reference files beside the rubric "
                              f"or in the course's reference/; {module} is answered by {reference}")
        modules = {m: r.removeprefix("reference.") for m, r in wanted.items()}
        reference_dir = REFERENCE_DIR
    return replace(TARGETS.get(rubric.assignment, AuditTarget()), modules=modules,
                   reference_dir=reference_dir, kit=kit_of(rubric))


def reference_source(stem: str) -> str:
    return (REFERENCE_DIR / f"{stem}.py").read_text(encoding="utf-8")


def graded_functions(target: AuditTarget, module: str) -> set[str]:
    """Public functions and classes of the kit's ``module`` stub (what students write)."""
    assert target.kit is not None, "target_for sets the kit"
    stub = target.kit / f"{module}.py"
    if not stub.is_file():
        raise GraderError(f"{stub}: the kit has no stub for module {module!r}")
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
            and not n.name.startswith("_")}


def write_submission(folder: Path, sources: dict[str, str]) -> None:
    """Write ``{student module: source}`` into ``folder``, with any reference module they import.

    The sandbox cannot import ``reference``: ``from reference.x import …``
    becomes ``from x import …`` and ``reference/x.py`` is copied beside it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    pending = dict(sources)
    while pending:
        name, source = pending.popitem()
        for stem in _REFERENCE_IMPORT.findall(source):
            if not (folder / f"{stem[1]}.py").exists() and stem[1] not in sources:
                pending[stem[1]] = reference_source(stem[1])
        (folder / f"{name}.py").write_text(_REFERENCE_IMPORT.sub(r"\1from \2 import", source),
                                           encoding="utf-8")


def variant_folders(assignment: str) -> list[Path]:
    """Independent correct implementations in ``tests/variants/<assignment>/<variant>/``."""
    root = VARIANTS_DIR / assignment
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) \
        if root.is_dir() else []
