"""The project 6 kit stays in step with the answer key, without carrying it."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import sys
from pathlib import Path

import pytest
import yaml

import reference.cnn
import reference.conv_arithmetic

REPO = Path(__file__).resolve().parents[1]
KIT = REPO / "assignments" / "proj4_cnn"
MODULES = {"student_code": reference.cnn, "conv_arithmetic": reference.conv_arithmetic}
PROVIDED = {"custom_part1_trainer"}  # the course's stub returns None: the defaults


def _kit_module(name: str):
    sys.path.insert(0, str(KIT))  # student_code imports the kit's utils.py
    try:
        spec = importlib.util.spec_from_file_location(f"proj4_kit_{name}", KIT / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(KIT))
    return module


def _public(name: str) -> dict[str, object]:
    module = _kit_module(name)
    return {n: v for n, v in vars(module).items() if not n.startswith("_")
            and (inspect.isfunction(v) or inspect.isclass(v)) and v.__module__ == module.__name__}


CASES = [(module, name) for module in MODULES for name in sorted(_public(module))]


@pytest.mark.parametrize("module, name", CASES)
def test_every_kit_name_has_the_reference_signature(module, name):
    stub, reference = _public(module)[name], getattr(MODULES[module], name, None)
    assert reference is not None, f"{name} is not in {MODULES[module].__name__}"
    signature = (lambda f: inspect.signature(f.__init__ if inspect.isclass(f) else f))
    assert signature(stub) == signature(reference)


def test_every_graded_target_is_in_the_kit():
    rubric = yaml.safe_load((REPO / "rubrics" / "proj4_cnn.yaml").read_text())
    for check in rubric["checks"]:
        module, name = check["target"].split(":")
        assert name in _public(module), check["id"]


@pytest.mark.parametrize("module", MODULES)
def test_kit_stubs_carry_no_answers(module):
    tree = ast.parse((KIT / f"{module}.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name and name.split(".")[0] in ("reference", "grader") for name in imported)
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name not in PROVIDED]
    for node in functions:
        assert ast.get_docstring(node) or node.name.startswith("__"), node.name
        assert isinstance(node.body[-1], ast.Raise), f"{node.name} must raise NotImplementedError"


def test_the_kit_simplenet_says_what_to_do():
    stub = _public("student_code")["SimpleNet"]
    with pytest.raises(NotImplementedError):
        stub(15)
