"""The boundary rules of the layout, read off the source by AST (imports and importlib calls):

- ``reference/`` never imports ``grader/`` (the answer key stands alone);
- ``assignments/`` never imports ``reference/`` (a student kit carries no answers);
- the sandbox's worker imports nothing of ``grader/`` outside itself, nor ``reference/``
  (it runs where neither is visible);
- ``grader/checks/`` never imports ``reference/`` (scoring never calls the answer key).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "grader" / "sandbox" / "worker"
WORKER_OWN = {"compat", "confine", "drivers", "main", "protocol", "server", "supervisor"}

RULES = [  # (files, forbidden top-level packages, why)
    (REPO / "reference", {"grader"}, "the answer key must not depend on the harness"),
    (REPO / "assignments", {"reference"}, "a student kit must not carry the answers"),
    (REPO / "grader" / "checks", {"reference"}, "scoring must not call the answer key"),
    (WORKER, {"grader", "reference"}, "the worker runs where neither is visible"),
]


def imported(path: Path) -> set[str]:
    """Top-level modules ``path`` imports: import statements, importlib.import_module("x"),
    __import__("x") (relative imports resolve inside the package, so they are left out)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value.split(".")[0])
    return names


def _is_dynamic_import(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in ("__import__", "import_module"))


@pytest.mark.parametrize("folder, forbidden, why", RULES,
                         ids=[str(rule[0].relative_to(REPO)) for rule in RULES])
def test_boundary(folder, forbidden, why):
    broken = {str(p.relative_to(REPO)): sorted(imported(p) & forbidden)
              for p in sorted(folder.rglob("*.py")) if imported(p) & forbidden}
    assert broken == {}, why


def test_the_worker_imports_only_itself_the_standard_library_and_its_course_packages():
    allowed_third_party = {"numpy", "torch", "torchvision", "PIL"}
    for path in sorted(WORKER.rglob("*.py")):
        foreign = {name for name in imported(path) - WORKER_OWN - allowed_third_party
                   if not _standard_library(name)}
        assert foreign == set(), f"{path.relative_to(REPO)} imports {sorted(foreign)}"


def _standard_library(name: str) -> bool:
    import sys

    return name in sys.stdlib_module_names or name == "__future__"
