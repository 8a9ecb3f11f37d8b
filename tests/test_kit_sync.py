"""Every student kit stays in step with the answer key, without carrying it.

One table drives it: each rubric's ``reference:`` (student module → reference module, the
mapping preparation and the audit read too). For every kit module and every public function
or class in it: the reference has it, with the kit's parameters first (same names, kinds and
defaults; extra reference parameters all have defaults); the stub carries no answer (a
docstring, then ``raise NotImplementedError``; it imports neither the reference nor the
grader, in any form); and every graded name is in the kit.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_grader
from grader.rubric.assignments import course_assignments, rubric_path
from grader.rubric.load import load_rubric

ASSIGNMENTS = course_assignments()
# the reference's match_features gives the coordinates a default because it does not use them
DEFAULT_ONLY_IN_REFERENCE = {("match_features", name) for name in ("x1", "y1", "x2", "y2")}
# stubs the course ships filled in: the course's default is the answer
FILLED_IN = {("proj4_cnn", "custom_part1_trainer")}


def _rubric(assignment: str):
    return load_rubric(rubric_path(assignment))[0]


def _kit(assignment: str) -> Path:
    return REPO / "assignments" / assignment / "kit"


def _kit_module(assignment: str, module: str):
    """The kit's ``module``, imported from its file (beside the kit's other files)."""
    folder = str(_kit(assignment))
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(f"kit_{assignment}_{module}",
                                                      _kit(assignment) / f"{module}.py")
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
    finally:
        sys.path.remove(folder)
    return loaded


def _public(assignment: str, module: str) -> dict[str, object]:
    loaded = _kit_module(assignment, module)
    return {name: value for name, value in vars(loaded).items() if not name.startswith("_")
            and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == loaded.__name__}


MODULES = [(a, m, r) for a in ASSIGNMENTS for m, r in _rubric(a).reference_modules.items()]
NAMES = [(a, m, r, name) for a, m, r in MODULES for name in sorted(_public(a, m))]


def _signature(thing) -> inspect.Signature:
    signature = inspect.signature(thing.__init__ if inspect.isclass(thing) else thing)
    if inspect.isclass(thing):  # without self
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    return signature


@pytest.mark.parametrize("assignment, module, reference, name", NAMES,
                         ids=[f"{a}-{m}-{n}" for a, m, _, n in NAMES])
def test_the_reference_has_every_kit_name_with_the_kits_parameters_first(assignment, module,
                                                                        reference, name):
    answer = getattr(importlib.import_module(reference), name, None)
    assert answer is not None, f"{name} is not in {reference}"
    kit = list(_signature(_public(assignment, module)[name]).parameters.values())
    ours = list(_signature(answer).parameters.values())
    assert [p.name for p in kit] == [p.name for p in ours[:len(kit)]], name
    for mine, theirs in zip(kit, ours):
        assert mine.kind == theirs.kind, mine.name
        if (name, mine.name) not in DEFAULT_ONLY_IN_REFERENCE:
            assert mine.default == theirs.default, mine.name
    assert all(p.default is not inspect.Parameter.empty for p in ours[len(kit):]), name


@pytest.mark.parametrize("assignment, module, reference", MODULES,
                         ids=[f"{a}-{m}" for a, m, _ in MODULES])
def test_kit_stubs_carry_no_answers(assignment, module, reference):
    tree = ast.parse((_kit(assignment) / f"{module}.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.split(".")[0] in ("reference", "grader") for name in imported), imported
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or (assignment, node.name) in FILLED_IN:
            continue
        assert ast.get_docstring(node) or node.name.startswith("__"), node.name
        last = node.body[-1]
        assert isinstance(last, ast.Raise) and "NotImplementedError" in ast.unparse(last), node.name


@pytest.mark.parametrize("assignment, module, reference, name", NAMES,
                         ids=[f"{a}-{m}-{n}" for a, m, _, n in NAMES])
def test_calling_a_stub_says_it_is_not_implemented(assignment, module, reference, name):
    if (assignment, name) in FILLED_IN:
        pytest.skip("the course ships this one filled in")
    stub = _public(assignment, module)[name]
    with pytest.raises(NotImplementedError):
        stub(*[None] * len(_signature(stub).parameters))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_graded_name_is_in_the_kit(assignment):
    rubric = _rubric(assignment)
    for check in rubric.checks:
        names = {check.function} | ({check.options["backward"]} if "backward" in check.options
                                    else set())
        assert names <= set(_public(assignment, check.module)), check.id


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_kit_files_are_the_rubric_modules_and_the_provided_files(assignment):
    rubric = _rubric(assignment)
    provided = {Path(name).stem for name in rubric.provided}
    assert {p.stem for p in _kit(assignment).glob("*.py")} == set(rubric.modules) | provided
    assert (_kit(assignment) / "README.md").is_file()


def test_proj2_stubs_document_the_image_conventions():
    for module in _rubric("proj2_features").modules:
        for stub in _public("proj2_features", module).values():
            doc = inspect.getdoc(stub)
            assert "Parameters" in doc and "Returns" in doc and "ndarray" in doc, module
        source = (_kit("proj2_features") / f"{module}.py").read_text()
        assert "column" in source and "row" in source, module


@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_stub_kit_grades_as_errors_not_crashes(tmp_path):
    out = tmp_path / "r.json"
    proc = run_grader("grade", "proj1_filtering", str(_kit("proj1_filtering")),
                      "--db", str(tmp_path / "db.sqlite"), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(out.read_text())
    assert result["score"] == 0
    assert {c["status"] for c in result["checks"]} <= {"error", "skipped"}
