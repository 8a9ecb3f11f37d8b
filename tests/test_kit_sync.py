"""Every function a student kit asks for exists in the reference with the same signature."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KITS = {  # kit file -> reference module
    "assignments/proj1_filtering/student_code.py": "reference.filtering",
}


def _kit_functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}


@pytest.mark.parametrize("kit, module", sorted(KITS.items()))
def test_kit_matches_reference_signatures(kit, module):
    reference = importlib.import_module(module)
    functions = _kit_functions(REPO / kit)
    assert functions, f"{kit} defines no public function"
    for name, node in functions.items():
        assert hasattr(reference, name), f"{kit}: {name} is not in {module}"
        expected = [p.name for p in inspect.signature(getattr(reference, name)).parameters.values()]
        assert [a.arg for a in node.args.args] == expected, f"{kit}: {name} signature differs"


@pytest.mark.parametrize("kit", sorted(KITS))
def test_kit_stubs_carry_no_answers(kit):
    """Each stub's body is a docstring and a NotImplementedError, and the kit imports no reference."""
    source = (REPO / kit).read_text()
    assert "reference" not in {n.names[0].name.split(".")[0] for n in ast.walk(ast.parse(source))
                               if isinstance(n, ast.Import)}
    for node in _kit_functions(REPO / kit).values():
        body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        assert len(body) == 1 and isinstance(body[0], ast.Raise)
        assert "NotImplementedError" in ast.unparse(body[0])


def test_stub_kit_grades_as_errors_not_crashes(tmp_path):
    import json

    from conftest import run_grader

    out = tmp_path / "r.json"
    proc = run_grader("grade", "proj1_filtering", str(REPO / "assignments/proj1_filtering"),
                      "--db", str(tmp_path / "db.sqlite"), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(out.read_text())
    assert result["score"] == 0
    assert {c["status"] for c in result["checks"]} <= {"error", "skipped"}
