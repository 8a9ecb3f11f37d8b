"""Notebook submissions: the graded modules are lifted from a ``.ipynb``'s code cells.

A student who worked in Jupyter or Colab hands in the notebook itself. Grading runs what
defines the functions, never the notebook's own demo: of each code cell, after removing
IPython magics (``%…``), shell escapes (``!…``) and cell magics (a cell starting with
``%%`` is dropped whole), only these top-level statements are kept —

- ``import`` and ``from … import``, and ``try`` blocks that hold nothing else (a guarded
  ``import cv2``);
- ``def``, ``async def`` and ``class``, with their decorators;
- assignments of a literal to plain names (``EPS = 1e-8``, ``SIZES = (3, 5)``).

Everything else — loading images, training, plotting, printing, calls of any kind — is
left out, so a notebook that trains for an hour at top level imports in milliseconds. A
cell that does not parse (after the magics are removed) is left out with a note. The
lifted source says which cell each statement came from, and the result's note names the
cell of each function, so the report points back into the notebook.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import SubmissionError


@dataclass
class Lifted:
    """What a notebook contributes: the module source and where each definition came from."""

    source: str
    cells: dict[str, int] = field(default_factory=dict)  # definition name -> 1-based cell number
    skipped: list[int] = field(default_factory=list)  # cells that did not parse


def lift(notebook: Path) -> Lifted:
    """Read ``notebook`` (nbformat 3 or 4) and lift its definitions and imports."""
    try:
        import nbformat
    except ModuleNotFoundError:
        raise SubmissionError(f"{notebook.name}: grading a notebook needs nbformat "
                              "(pip install nbformat)") from None

    try:
        document = nbformat.read(notebook, as_version=4)
    except Exception as exc:  # nbformat raises JSON, validation and reader errors of many kinds
        raise SubmissionError(f"{notebook.name}: not a readable Jupyter notebook ({exc})") from None
    lifted = Lifted(f"# lifted from {notebook.name}: its imports and definitions "
                    "(grader/ipynb.py says which statements)\n")
    parts = [lifted.source]
    for number, cell in enumerate(document.cells, start=1):
        if cell.cell_type != "code":
            continue
        code = _without_magics(cell.source)
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            lifted.skipped.append(number)
            continue
        kept = [node for node in tree.body if _is_definition(node)]
        if kept:
            parts.append(f"\n# --- cell {number}\n")
            parts += [(ast.get_source_segment(code, node, padded=True) or "") + "\n" for node in kept]
        for node in kept:
            for name in _names(node):
                lifted.cells.setdefault(name, number)
    lifted.source = "".join(parts)
    return lifted


def note(notebook: Path, modules: list[str], lifted: Lifted) -> str:
    """One sentence for the result: which modules came from the notebook, and from which cells."""
    functions = [f"{name} (cell {cell})" for name, cell in lifted.cells.items()
                 if not name.isupper()]
    text = (f"{', '.join(m + '.py' for m in modules)} lifted from {notebook.name}: "
            f"{', '.join(functions[:20]) or 'no definitions'}; demo code not run")
    if lifted.skipped:
        text += f"; cells {', '.join(map(str, lifted.skipped))} left out (not valid Python)"
    return text


def _without_magics(source: str) -> str:
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                         ast.ClassDef)):
        return True
    if isinstance(node, ast.Try):
        blocks = node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        return all(isinstance(s, ast.Pass) or _is_definition(s) for s in blocks)
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return all(isinstance(t, ast.Name) for t in targets) and _is_literal(node.value)
    return False


def _is_literal(value: ast.expr) -> bool:
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    return []
