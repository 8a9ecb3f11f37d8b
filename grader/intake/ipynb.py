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
cell that does not parse (after the magics are removed) is left out with a note. Each
import is kept inside a guard: one that fails here (an API its libraries have removed since
the course ran it, a helper ``.py`` never handed in) prints a note and binds its names to
stand-ins that raise its error when used, so it costs only the functions that use it. The
lifted source says which cell each statement came from, and the result's note names the
cell of each function, so the report points back into the notebook.

The notebook is untrusted input read on the trusted side, so the work is linear in its size
and capped: at most :data:`MAX_NOTEBOOK_BYTES` on disk, :data:`MAX_CELLS` cells and
:data:`MAX_CODE_CHARS` characters of code; outputs are dropped before nbformat reads the
rest (validating 100 000 outputs took 2.4 s); cells are parsed by :mod:`grader.intake.parsing`;
each kept statement is sliced out of its cell by its position (``ast.get_source_segment``
split the whole cell again for every statement: a cell of 3 000 one-line definitions took
20 to 45 s, one of 20 000 over two minutes; now 0.2 s and under a second).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.intake import parsing
from grader.errors import SubmissionError, size_text

MAX_NOTEBOOK_BYTES = 50 << 20  # bytes of one .ipynb file, outputs (plots) included
MAX_CELLS = 25_000  # cells of one notebook, of every kind (nbformat reads 25 000 in about 0.5 s)
# characters of a notebook's code cells, together (2 000 000 characters of one-line definitions
# parse in about 2 s, into 400 MiB of syntax tree; a course notebook has 20 000 to 200 000)
MAX_CODE_CHARS = 2_000_000


@dataclass
class Lifted:
    """What a notebook contributes: the module source and where each definition came from."""

    source: str
    cells: dict[str, int] = field(default_factory=dict)  # definition name -> 1-based cell number
    skipped: list[int] = field(default_factory=list)  # cells that did not parse


def lift(notebook: Path) -> Lifted:
    """Read ``notebook`` (nbformat 3 or 4) and lift its definitions and imports.

    Raises
    ------
    SubmissionError
        One sentence: the notebook is unreadable, or over one of the caps (bytes, cells, code).
    """
    lifted = Lifted(f"{_HEADER}{notebook.name}: its imports and definitions "
                    "(grader/intake/ipynb.py says which statements)\n" + _MISSING_IMPORT)
    parts = [lifted.source]
    for number, code in _code_cells(notebook):
        try:
            tree = parsing.parse(code)
        except parsing.Unparsable:
            lifted.skipped.append(number)
            continue
        kept = [node for node in tree.body if _is_definition(node)]
        if kept:
            parts.append(f"\n# --- cell {number}\n")
            parts += [_guarded(segment, node, number) if isinstance(node, _IMPORTS) else segment + "\n"
                      for segment, node in zip(_segments(code, kept), kept)]
        for node in kept:
            for name in _names(node):
                lifted.cells[name] = number  # the last definition is the one that runs
    lifted.source = "".join(parts)
    return lifted


_IMPORTS = (ast.Import, ast.ImportFrom)
# Defined once at the top of every lifted module: runs one of the notebook's imports, and where
# it fails, says so on the output and binds stand-ins that raise its error when used.
_MISSING_IMPORT = """
class _GraderMissingImport:
    def __init__(self, reason):
        self._reason = reason

    def __getattr__(self, name):
        raise ImportError(self._reason)

    def __call__(self, *args, **kwargs):
        raise ImportError(self._reason)


def _grader_import(cell, statement, *names):
    space = {}
    try:
        exec(statement, space)
        found = [space[name] for name in names]
    except ImportError as error:
        why = str(error).replace(f" ({error.path})", "") if error.path else str(error)
        reason = f"cell {cell}'s `{statement}` failed: {why}"
        print("note:", reason, "(grading goes on without it)")
        found = [_GraderMissingImport(reason) for name in names]
    return found[0] if len(found) == 1 else tuple(found)
"""


def _guarded(segment: str, node: ast.Import | ast.ImportFrom, cell: int) -> str:
    """A notebook's import, kept only where it works: the notebook ran it once on the course's
    machine, but one that fails here (an API its libraries have since removed, such as
    ``scipy.misc.imresize``; a helper ``.py`` never handed in) costs nothing unless a graded
    function uses what it would have bound. Then that use raises the import's error, and the
    student's output says which import failed and why. (``from x import *`` binds names no
    one can list before it runs: it stays as written.)"""
    names = _bound(node)
    if not names:
        return segment + "\n"
    statement = " ".join(segment.split())
    quoted = ", ".join(repr(name) for name in names)
    return f"{', '.join(names)} = _grader_import({cell}, {statement!r}, {quoted})\n"


def as_written(source: str) -> str:
    """A lifted module's source as its notebook has it: each import back as the statement the
    student wrote, without the code lifting added (the similarity report compares what
    students wrote); any other source as it is."""
    if not source.startswith(_HEADER):
        return source
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    lines = source.split("\n")
    for node in tree.body:  # top-level statements only: never a line inside a string or function
        statement = _guarded_statement(node)
        if statement is not None:
            lines[node.lineno - 1] = statement
    return "\n".join(lines).replace(_MISSING_IMPORT, "", 1)


_HEADER = "# lifted from "


def _guarded_statement(node: ast.stmt) -> str | None:
    """The import statement of a line :func:`_guarded` wrote (``names = _grader_import(cell,
    'statement', ...)``, one line), or ``None``."""
    call = node.value if isinstance(node, ast.Assign) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == "_grader_import" and len(call.args) >= 2
            and isinstance(call.args[1], ast.Constant) and isinstance(call.args[1].value, str)
            and node.lineno == node.end_lineno):
        return None
    return call.args[1].value


def _bound(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The names an import statement binds (none for ``from x import *``)."""
    if isinstance(node, ast.Import):
        return [alias.asname or alias.name.split(".")[0] for alias in node.names]
    return [alias.asname or alias.name for alias in node.names if alias.name != "*"]


def _code_cells(notebook: Path) -> list[tuple[int, str]]:
    """The code cells of ``notebook`` as (1-based cell number, source without magics)."""
    cells = [(number, _without_magics(cell.source))
             for number, cell in enumerate(_read(notebook).cells, start=1)
             if cell.cell_type == "code"]
    size = sum(len(code) for _, code in cells)
    if size > MAX_CODE_CHARS:
        raise SubmissionError(f"{notebook.name}: its code cells hold {size:,} characters, more "
                              f"than the {MAX_CODE_CHARS:,} a notebook may have")
    return cells


def note(notebook: Path, modules: list[str], lifted: Lifted) -> str:
    """One sentence for the result: which modules came from the notebook, and from which cells."""
    functions = [f"{name} (cell {cell})" for name, cell in lifted.cells.items()
                 if not name.isupper()]
    text = (f"{', '.join(m + '.py' for m in modules)} lifted from {notebook.name}: "
            f"{', '.join(functions[:20]) or 'no definitions'}; demo code not run")
    if lifted.skipped:
        text += f"; cells {', '.join(map(str, lifted.skipped))} left out (not valid Python)"
    return text


def _read(notebook: Path) -> Any:
    """The notebook as nbformat 4, read within the caps and without its outputs."""
    try:
        import nbformat
    except ModuleNotFoundError:
        raise SubmissionError(f"{notebook.name}: grading a notebook needs nbformat "
                              "(pip install nbformat)") from None
    size = notebook.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"{notebook.name}: {size_text(size)}, more than the "
                              f"{size_text(MAX_NOTEBOOK_BYTES)} a notebook may have; clear its "
                              "outputs (Kernel > Restart & Clear Output) and hand it in again")
    try:
        data = json.loads(notebook.read_bytes())
        _check_cells(notebook, _without_outputs(data))
        return nbformat.reads(json.dumps(data), as_version=4)
    except SubmissionError:
        raise
    except Exception as exc:  # JSON, nbformat's reader and converter raise errors of many kinds
        raise SubmissionError(f"{notebook.name}: not a readable Jupyter notebook "
                              f"({str(exc)[:200]})") from None


def _without_outputs(data: Any) -> list[Any]:
    """Empty the outputs and attachments of every cell of ``data`` (nbformat 4's ``cells`` or
    nbformat 3's ``worksheets``), which lifting never reads; return the cells."""
    if not isinstance(data, dict):
        raise ValueError("the file is not a JSON object")
    cells = data.get("cells")
    if not isinstance(cells, list):
        sheets = data.get("worksheets")
        cells = [cell for sheet in sheets if isinstance(sheet, dict)
                 for cell in sheet.get("cells", [])] if isinstance(sheets, list) else []
    for cell in cells:
        if isinstance(cell, dict):
            cell.pop("attachments", None)
            if "outputs" in cell:
                cell["outputs"] = []
    return cells


def _check_cells(notebook: Path, cells: list[Any]) -> None:
    if len(cells) > MAX_CELLS:
        raise SubmissionError(f"{notebook.name}: {len(cells):,} cells, more than the "
                              f"{MAX_CELLS:,} a notebook may have")


def _without_magics(source: str) -> str:
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _segments(code: str, nodes: list[ast.stmt]) -> list[str]:
    """The text of each top-level statement of ``code`` in ``nodes``, decorators included.

    The cell is encoded once and each statement sliced out by its position (the AST's columns
    are UTF-8 byte offsets), so a cell costs O(its length) however many statements it has.
    ``code`` has only ``\\n`` line ends (:func:`_without_magics` joined it).
    """
    data = code.encode()
    starts = [0, *(match.end() for match in re.finditer(b"\n", data))]  # byte offset of each line
    segments = []
    for node in nodes:
        assert node.end_lineno is not None and node.end_col_offset is not None  # parsed statements
        end = starts[node.end_lineno - 1] + node.end_col_offset
        segments.append(data[_start(node, data, starts):end].decode())
    return segments


def _start(node: ast.stmt, data: bytes, starts: list[int]) -> int:
    """Byte offset where ``node`` begins: its first decorator's ``@`` (at the start of a line
    at top level, possibly lines above the decorator's expression), else the node itself."""
    decorators = getattr(node, "decorator_list", [])
    if not decorators:
        return starts[node.lineno - 1] + node.col_offset
    line = min(d.lineno for d in decorators)
    while line > 1 and not data.startswith(b"@", starts[line - 1]):
        line -= 1
    return starts[line - 1]


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
