"""The boundary rules of the layout, read off the source by AST (imports and importlib calls):

- ``reference/`` never imports ``grader/`` (the answer key stands alone);
- ``assignments/`` never imports ``reference/`` (a student kit carries no answers);
- the sandbox's worker imports nothing of ``grader/`` outside itself, nor ``reference/``
  (it runs where neither is visible);
- ``grader/checks/`` never imports ``reference/`` (scoring never calls the answer key);
- ``grader/`` outside the worker has no import cycle, counting every import: at module level,
  inside functions and under ``if TYPE_CHECKING:`` alike (each is a dependency a reader must
  follow, and a cycle hidden in a function is still a cycle).

Relative imports are resolved against the file's place in the tree, so ``from ... import x``
out of the worker counts as importing the package above it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKER = "grader/worker"
WORKER_OWN = {"compat", "confine", "drivers", "main", "protocol", "server", "supervisor"}

RULES = [  # (folder, forbidden packages, allowed inside them, why)
    ("reference", {"grader"}, set(), "the answer key must not depend on the harness"),
    ("assignments", {"reference"}, set(), "a student kit must not carry the answers"),
    ("grader/checks", {"reference"}, set(), "scoring must not call the answer key"),
    (WORKER, {"grader", "reference"}, {"grader.worker"},
     "the worker runs where neither is visible"),
]


def imported(path: Path, root: Path) -> set[str]:
    """Dotted names of the modules ``path`` (a file under ``root``) imports.

    Import statements (relative ones resolved against the file's package), and string
    literals given to ``importlib.import_module`` or ``__import__`` (of an f-string, the
    literal part before the first placeholder).
    """
    package = path.relative_to(root).parent.parts
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= _from_import(node, package)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            literal = _literal_prefix(node.args[0])
            if literal and not literal.startswith("."):
                names.add(literal.rstrip("."))
    return names


def _from_import(node: ast.ImportFrom, package: tuple[str, ...]) -> set[str]:
    """``from X import a, b``: ``X`` (made absolute when relative)."""
    if node.level == 0:
        return {node.module} if node.module else set()
    base = package[: len(package) - (node.level - 1)] if node.level - 1 <= len(package) else ()
    if node.module:
        return {".".join((*base, node.module))}
    return {".".join((*base, alias.name)) for alias in node.names}


def _is_dynamic_import(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in ("__import__", "import_module"))


def _literal_prefix(arg: ast.expr) -> str | None:
    """The constant text of a string argument, or of an f-string up to its first placeholder."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value)
    return None


def _within(name: str, packages: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def violations(root: Path, folder: str, forbidden: set[str], allowed: set[str]) -> dict[str, list[str]]:
    """``{file: [forbidden modules it imports]}`` for the Python files under ``root/folder``."""
    broken = {}
    for path in sorted((root / folder).rglob("*.py")):
        bad = sorted(name for name in imported(path, root)
                     if _within(name, forbidden) and not _within(name, allowed))
        if bad:
            broken[str(path.relative_to(root))] = bad
    return broken


@pytest.mark.parametrize("folder, forbidden, allowed, why", RULES, ids=[rule[0] for rule in RULES])
def test_boundary(folder, forbidden, allowed, why):
    assert violations(REPO, folder, forbidden, allowed) == {}, why


def test_the_worker_imports_only_itself_the_standard_library_and_its_course_packages():
    allowed_third_party = {"numpy", "torch", "torchvision", "PIL"}
    for path in sorted((REPO / WORKER).rglob("*.py")):
        tops = {name.split(".")[0] for name in imported(path, REPO)
                if not _within(name, {WORKER.replace("/", ".")})}
        foreign = {name for name in tops - WORKER_OWN - allowed_third_party
                   if name not in sys.stdlib_module_names and name != "__future__"}
        assert foreign == set(), f"{path.relative_to(REPO)} imports {sorted(foreign)}"


SYNTHETIC = {  # file: (source, the forbidden modules the checker must find)
    "reference/harris.py": ("import numpy\nfrom grader.inputs import image\n", ["grader.inputs"]),
    "reference/sub/deep.py": ("from ... import grader\n", ["grader"]),
    "assignments/proj1/stub.py": ("import reference.filtering as f\n", ["reference.filtering"]),
    "assignments/proj1/sneaky.py": ('name = "sift"\nmodule = __import__(f"reference.{name}")\n',
                                    ["reference"]),
    "grader/checks/numeric.py": ('import importlib\nm = importlib.import_module("reference.sift")\n',
                                 ["reference.sift"]),
    "grader/checks/fine.py": ("from grader.checks import base\nfrom . import base\n", []),
    "grader/worker/server.py": ("from .drivers import student\nimport protocol\n", []),
    "grader/worker/drivers/escape.py": (
        "from ..protocol import send\nfrom ...sandbox.session import Session\nfrom .. import server\n",
        ["grader.sandbox.session"]),
    "grader/worker/drivers/answers.py": ("from reference import cnn\n", ["reference"]),
}


def test_the_checker_finds_each_kind_of_violation_in_a_synthetic_tree(tmp_path):
    for name, (source, _) in SYNTHETIC.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source)
    found = {}
    for folder, forbidden, allowed, _ in RULES:
        found |= violations(tmp_path, folder, forbidden, allowed)
    assert found == {name: bad for name, (_, bad) in SYNTHETIC.items() if bad}


def module_names(root: Path, package: str, skip: str) -> dict[str, Path]:
    """``{dotted name: file}`` of the modules of ``package`` under ``root``, less ``skip``."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        if path.is_relative_to(root / skip):
            continue
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module: at top level, inside functions and under
    ``if TYPE_CHECKING:``."""
    return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def _targets(node: ast.Import | ast.ImportFrom, package: tuple[str, ...], modules: set[str]) -> set[str]:
    """The modules one statement imports: ``from pkg import mod`` names ``pkg.mod`` too."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        base = ".".join((*package[: len(package) - node.level + 1], *filter(None, [node.module])))
    else:
        base = node.module or ""
    return {base} | ({f"{base}.{alias.name}" for alias in node.names} & modules)


def import_graph(root: Path, package: str = "grader", skip: str = WORKER) -> dict[str, set[str]]:
    """``{module: modules of the graph it imports}``.

    Importing ``a.b.c`` also runs the packages ``a`` and ``a.b``, so they count as imported,
    except those that contain the importing module (a package importing its own parts is
    how packages work, not a cycle).
    """
    modules = module_names(root, package, skip)
    graph = {}
    for name, path in modules.items():
        own = path.relative_to(root).parent.parts
        edges = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in _targets(node, own, set(modules)):
                parts = target.split(".")
                edges |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        graph[name] = {t for t in edges & set(modules) if t != name and not name.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of ``graph`` with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = {stack.pop()}
            while node not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_grader_has_no_import_cycle():
    assert cycles(import_graph(REPO)) == []


CYCLIC = {  # file: source; a ↔ b (through the package c too, and e under TYPE_CHECKING) and
    # g ↔ h (inside functions only) are cycles; f and the worker's w are not in one
    "grader/a.py": "from grader import b\n",
    "grader/b.py": "import grader.c.d\nfrom typing import TYPE_CHECKING\n"
                   "if TYPE_CHECKING:\n    from grader import e\n",
    "grader/c/__init__.py": "from grader.c import d\nfrom . import f\n",
    "grader/c/d.py": "from ..a import x\n",
    "grader/c/f.py": "import os\n",
    "grader/e.py": "import grader.b\n\ndef later():\n    from grader import a\n",
    "grader/g.py": "def later():\n    from grader import h\n",
    "grader/h.py": "class K:\n    def m(self):\n        import grader.g\n",
    "grader/worker/w.py": "from grader import a\n",
}


def test_the_cycle_finder_counts_every_import_and_the_packages_they_run(tmp_path):
    for name, source in CYCLIC.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source)
    assert sorted(map(sorted, cycles(import_graph(tmp_path)))) == [
        ["grader.a", "grader.b", "grader.c", "grader.c.d", "grader.e"], ["grader.g", "grader.h"]]
