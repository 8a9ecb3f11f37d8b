"""The Project 2 kit and the reference agree on names and signatures; the kit carries no answers.

Intended differences (documented in the reference docstrings): the reference
functions take extra options, all with defaults, *after* the course
parameters — ``get_interest_points(..., num_points=5000, *, sigma_d=...)``,
``get_features(..., scales=None, *, sigma=...)``,
``match_features(..., *, ratio=0.8)`` — and ``match_features`` gives
``x1, y1, x2, y2`` a default of ``None`` because it does not use them. So the
kit's parameters must be the reference's first parameters, same names, same
kinds, same defaults where the kit has one, and every extra reference
parameter must have a default.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
from pathlib import Path

import pytest

from conftest import REPO

KIT = REPO / "assignments" / "proj2_features"
PAIRS = [  # (kit module, function, reference module)
    ("student_harris", "get_interest_points", "reference.harris"),
    ("student_sift", "get_features", "reference.sift"),
    ("student_feature_matching", "match_features", "reference.matching"),
]
DEFAULT_ONLY_IN_REFERENCE = {("match_features", name) for name in ("x1", "y1", "x2", "y2")}


def _kit_module(name: str):
    spec = importlib.util.spec_from_file_location(f"kit_{name}", KIT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kit_name, function, reference_name", PAIRS)
def test_kit_signature_is_a_prefix_of_the_reference(kit_name, function, reference_name):
    kit = inspect.signature(getattr(_kit_module(kit_name), function))
    reference = inspect.signature(getattr(importlib.import_module(reference_name), function))
    kit_params, ref_params = list(kit.parameters.values()), list(reference.parameters.values())
    assert [p.name for p in kit_params] == [p.name for p in ref_params[: len(kit_params)]]
    for mine, theirs in zip(kit_params, ref_params):
        assert mine.kind == theirs.kind, mine.name
        if (function, mine.name) not in DEFAULT_ONLY_IN_REFERENCE:
            assert mine.default == theirs.default, mine.name
    extra = ref_params[len(kit_params):]
    assert all(p.default is not inspect.Parameter.empty for p in extra)


@pytest.mark.parametrize("kit_name, function, _", PAIRS)
def test_stubs_raise_not_implemented_and_document_conventions(kit_name, function, _):
    stub = getattr(_kit_module(kit_name), function)
    n_args = len(inspect.signature(stub).parameters)
    with pytest.raises(NotImplementedError):
        stub(*[None] * n_args)
    doc = inspect.getdoc(stub)
    assert "Parameters" in doc and "Returns" in doc and "ndarray" in doc
    source = (KIT / f"{kit_name}.py").read_text()
    assert "column" in source and "row" in source


def test_kit_does_not_import_the_reference_or_the_grader():
    for path in KIT.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("reference", "grader") for n in names), path


def test_kit_modules_are_the_rubric_targets():
    from grader.assignments import rubric_path
    from grader.rubric import load_rubric

    rubric, _ = load_rubric(rubric_path("proj2_features"))
    assert set(rubric.modules) == {name for name, _, _ in PAIRS}
    assert {p.stem for p in KIT.glob("*.py")} == set(rubric.modules)
    assert (KIT / "README.md").is_file()
