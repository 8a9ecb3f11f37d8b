"""The project 3 kit stays in step with the answer key, without carrying it."""

from __future__ import annotations

import ast
import importlib.util
import inspect
from pathlib import Path

import pytest
import yaml

import reference.layers

REPO = Path(__file__).resolve().parents[1]
KIT = REPO / "assignments" / "proj3_backprop" / "layers.py"


def _kit_module():
    spec = importlib.util.spec_from_file_location("proj3_kit_layers", KIT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kit_functions() -> dict[str, object]:
    module = _kit_module()
    return {name: f for name, f in inspect.getmembers(module, inspect.isfunction)
            if f.__module__ == module.__name__ and not name.startswith("_")}


@pytest.mark.parametrize("name", sorted(_kit_functions()))
def test_every_kit_function_has_the_reference_signature(name):
    stub = _kit_functions()[name]
    assert hasattr(reference.layers, name), f"{name} is not in reference/layers.py"
    assert inspect.signature(stub) == inspect.signature(getattr(reference.layers, name))


def test_every_graded_function_is_in_the_kit():
    rubric = yaml.safe_load((REPO / "rubrics" / "proj3_backprop.yaml").read_text())
    graded = {c["target"].split(":")[1] for c in rubric["checks"]}
    graded |= {c["options"]["backward"] for c in rubric["checks"] if "backward" in c["options"]}
    assert graded <= set(_kit_functions())


def test_kit_stubs_carry_no_answers():
    tree = ast.parse(KIT.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name and name.split(".")[0] in ("reference", "grader") for name in imported)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            body = [s for s in node.body if not isinstance(s, ast.Expr)]  # skip the docstring
            assert len(body) == 1 and isinstance(body[0], ast.Raise), node.name
            assert ast.get_docstring(node), node.name
