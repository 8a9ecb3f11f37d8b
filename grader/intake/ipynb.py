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
cell that does not parse (after the magics are removed) is left out with a note.

Imports are lifted as the course ran them, which was in a notebook: one that failed there
cost only the cells that used it. Here, read on the trusted side before anything runs:

- an import that binds only names no kept statement uses (``plt`` for the demo's plots, a
  ``from scipy.misc import imresize`` for a resized preview, a helper ``.py`` never handed
  in) serves only the demo code and is **not run**; the result's note names it, and why it
  would have failed where that is known (an API in :mod:`grader.intake.removed_apis`, a
  module neither handed in nor a library of the grader's Python);
- an import from the very module the notebook is lifted as (the course's notebooks ``from
  student_code import my_imfilter``) is the notebook's own definitions: not run, and a note
  names what it imports that the notebook does not define (the ``.py`` never handed in);
- every other import runs inside a guard: where it fails (a reason not known beforehand, or
  an environment without the library) it prints a note and binds stand-ins that raise its
  error when used, so only the functions that use it fail, with that reason; a name the
  notebook had already bound keeps its value, as in Jupyter. A note in the result names each
  such import known to fail, and the functions that use it, directly or through others.
  ``from x import *`` runs in the same guard.

The lifted source says which cell each statement came from, and the result's note names the
cell of each function, so the report points back into the notebook.

The notebook is untrusted input read on the trusted side, so the work is linear in its size
and capped: at most :data:`MAX_NOTEBOOK_BYTES` on disk, :data:`MAX_CELLS` cells and
:data:`MAX_CODE_CHARS` characters of code; outputs are dropped before nbformat reads the
rest (validating 100 000 outputs took 2.4 s); cells are parsed by :mod:`grader.intake.parsing`,
one at a time (each cell's tree is dropped once read: the names each statement binds and uses
are kept, not the tree); each kept statement is sliced out of its cell by its position
(``ast.get_source_segment`` split the whole cell again for every statement: a cell of 3 000
one-line definitions took 20 to 45 s, one of 20 000 over two minutes; now 0.2 s and under a
second).
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.intake import parsing, removed_apis
from grader.errors import SubmissionError, size_text

MAX_NOTEBOOK_BYTES = 50 << 20  # bytes of one .ipynb file, outputs (plots) included
MAX_CELLS = 25_000  # cells of one notebook, of every kind (nbformat reads 25 000 in about 0.5 s)
# characters of a notebook's code cells, together (2 000 000 characters of one-line definitions
# parse in about 2 s, into 400 MiB of syntax tree; a course notebook has 20 000 to 200 000)
MAX_CODE_CHARS = 2_000_000
# imports known to fail whose users a note names (each is a walk of the definitions)
MAX_FAILING_NOTES = 20
_SHOWN = 8  # imports a note lists by their statement; the rest are counted

# names whose use reaches any global by its name at run time: with one, every import is kept
_DYNAMIC = frozenset({"eval", "exec", "globals"})


@dataclass(frozen=True)
class LiftedImport:
    """One import statement of the notebook, and what lifting made of it."""

    cell: int
    statement: str  # on one line, as the lifted source and the notes show it
    kept: bool  # run in the lifted module (in its guard); else only the demo code used it
    fails: str = ""  # why it fails before anything runs, where that is known
    why: str = ""  # the same in brief
    users: tuple[str, ...] = ()  # the notebook's definitions that use it, directly or not
    own: tuple[str, ...] = ()  # of an import from the lifted module: names the notebook lacks
    module: str = ""  # of an import from the lifted module: that module


@dataclass
class Lifted:
    """What a notebook contributes: the module source and where each definition came from."""

    source: str
    cells: dict[str, int] = field(default_factory=dict)  # definition name -> 1-based cell number
    skipped: list[int] = field(default_factory=list)  # cells that did not parse
    imports: list[LiftedImport] = field(default_factory=list)  # in the notebook's order


@dataclass(frozen=True, slots=True)
class _ImportOf:
    """What an import statement names: ``from module import names`` (``module`` is ``None`` for
    ``import names``; ``level`` counts the dots of a relative import)."""

    module: str | None
    level: int
    names: tuple[tuple[str, str | None], ...]  # (name, asname)

    @property
    def bound(self) -> list[str]:
        """The names the statement binds (none for ``from x import *``)."""
        if self.module is None and not self.level:
            return [asname or name.split(".")[0] for name, asname in self.names]
        return [asname or name for name, asname in self.names if name != "*"]


@dataclass(slots=True)
class _Statement:
    """A kept statement, read once: its text and the names it binds and uses (no tree)."""

    cell: int
    segment: str
    binds: list[str]
    uses: frozenset[str] = frozenset()
    imported: _ImportOf | None = None


def lift(notebook: Path, modules: Sequence[str] = (),
         importable: Callable[[str], bool] | None = None) -> Lifted:
    """Read ``notebook`` (nbformat 3 or 4) and lift its definitions and imports.

    ``modules`` are the modules the notebook is lifted as (its imports from them are its own
    definitions); ``importable(name)`` says whether a top-level module can be imported where
    the code runs (handed in, provided or installed), for the notes about imports known to fail.

    Raises
    ------
    SubmissionError
        One sentence: the notebook is unreadable, or over one of the caps (bytes, cells, code).
    """
    statements: list[_Statement] = []
    lifted = Lifted("")
    for number, code in _code_cells(notebook):
        try:
            tree = parsing.parse(code)
        except parsing.Unparsable:
            lifted.skipped.append(number)
            continue
        kept = [node for node in tree.body if _is_definition(node)]
        with parsing.collector_paused():
            statements += [_read_statement(number, segment, node)
                           for segment, node in zip(_segments(code, kept), kept)]
        for node in kept:
            for name in _names(node):
                lifted.cells[name] = number  # the last definition is the one that runs
    parts = [f"{_HEADER}{notebook.name}: its imports and definitions "
             f"(grader/intake/ipynb.py says which statements)\n{_PRELUDE}"
             f"{_NOTEBOOK} = {notebook.name!r}\n"]
    uses = _Uses(statements)
    cell = failing = 0
    for statement in statements:
        if statement.cell != cell:
            cell = statement.cell
            parts.append(f"\n# --- cell {cell}\n")
        if statement.imported is None:
            parts.append(statement.segment + "\n")
            continue
        found = _lift_import(statement, statement.imported, set(modules), uses, importable,
                             failing < MAX_FAILING_NOTES)
        failing += bool(found.fails and found.kept)
        lifted.imports.append(found)
        parts.append(_guarded(found, statement.binds))
    lifted.source = "".join(parts)
    return lifted


def _read_statement(cell: int, segment: str, node: ast.stmt) -> _Statement:
    if isinstance(node, _IMPORTS):
        names = tuple((alias.name, alias.asname) for alias in node.names)
        of = (_ImportOf(node.module, node.level, names) if isinstance(node, ast.ImportFrom)
              else _ImportOf(None, 0, names))
        return _Statement(cell, segment, of.bound, imported=of)
    used = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
    return _Statement(cell, segment, _names(node), used)


class _Uses:
    """Which names the kept statements use, and which definitions use a name, transitively."""

    def __init__(self, statements: list[_Statement]):
        definitions = [s for s in statements if s.imported is None]
        self.names = frozenset().union(*(s.uses for s in definitions))
        self.defined = frozenset().union(*(s.binds for s in definitions))
        self.dynamic = bool(self.names & _DYNAMIC)
        self._users: dict[str, set[str]] = {}  # name -> the definitions that use it
        for statement in definitions:
            for name in statement.uses:
                self._users.setdefault(name, set()).update(statement.binds)

    def by(self, names: list[str]) -> tuple[str, ...]:
        """The definitions that use any of ``names``, or use a definition that does, ..."""
        found: set[str] = set()
        stack = [user for name in names for user in self._users.get(name, ())]
        while stack:
            name = stack.pop()
            if name not in found:
                found.add(name)
                stack += self._users.get(name, ())
        return tuple(sorted(found))


def _lift_import(statement: _Statement, of: _ImportOf, modules: set[str], uses: _Uses,
                 importable: Callable[[str], bool] | None, name_users: bool) -> LiftedImport:
    """What becomes of one import: kept or not run, and why it would fail, where known."""
    text = " ".join(statement.segment.split())
    if of.module in modules and not of.level:
        renamed = {asname for name, asname in of.names if asname and asname != name}
        if not renamed & uses.names:  # the module's own names: its own definitions
            own = [name for name, _ in of.names if name != "*" and name not in uses.defined]
            return LiftedImport(statement.cell, text, kept=False, own=tuple(own), module=of.module)
    bound = statement.binds
    kept = not bound or uses.dynamic or bool(set(bound) & uses.names)
    fails, why = _fails(of, importable)
    users = uses.by(bound) if kept and fails and name_users else ()
    return LiftedImport(statement.cell, text, kept, fails, why, users)


def _fails(of: _ImportOf, importable: Callable[[str], bool] | None) -> tuple[str, str]:
    """Why an import fails before anything runs, in full and in brief: an API its library
    removed, or a module neither handed in nor installed; ("", "") where not known to fail."""
    if of.level:
        return "", ""
    if of.module is None:
        targets = modules = [name for name, _ in of.names]
    else:
        targets, modules = [f"{of.module}.{name}" for name, _ in of.names], [of.module]
    for target in targets:
        entry = removed_apis.lookup(target)
        if entry:
            return entry[1].text(entry[0]), entry[1].brief(entry[0])
    for top in dict.fromkeys(module.split(".")[0] for module in modules):
        if importable is not None and not importable(top):
            why = f"no {top}.py was handed in"
            return f"{why}, and the grader's Python has no library of that name", why
    return "", ""


_IMPORTS = (ast.Import, ast.ImportFrom)
_NOTEBOOK = "_grader_notebook"  # the lifted module's name for its notebook (the worker reads it)
# Defined once at the top of every lifted module: the guards its imports run in. A failed
# import says so on the output and binds stand-ins that raise its error when used (the worker
# knows a stand-in by its class attribute: a graded function that is one is a missing function).
_PRELUDE = """
class _GraderMissingImport:
    _grader_stand_in = True

    def __init__(self, reason):
        self._reason = reason

    def __getattr__(self, name):
        raise ImportError(self._reason)

    def __call__(self, *args, **kwargs):
        raise ImportError(self._reason)


def _grader_failed(cell, statement, error):
    if isinstance(error, ImportError):
        why = str(error).replace(f" ({error.path})", "") if error.path else str(error)
    else:
        why = f"{type(error).__name__}: {error}"
    reason = f"cell {cell}'s `{statement}` failed: {why}"
    print("note:", reason, "(only what uses it fails)")
    return reason


def _grader_import(cell, statement, *names):
    space = {}
    try:
        exec(statement, space)
        found = [space[name] for name in names]
    except Exception as error:
        reason = _grader_failed(cell, statement, error)
        found = [globals().get(name, _GraderMissingImport(reason)) for name in names]
    return found[0] if len(found) == 1 else tuple(found)


def _grader_import_all(cell, statement):
    space = {}
    try:
        exec(statement, space)
    except Exception as error:
        _grader_failed(cell, statement, error)
        return
    space.pop("__builtins__", None)
    globals().update(space)


def _grader_left_out(cell, statement):
    pass  # an import only the notebook's demo code used, or one of its own names: not run

"""
_HELPERS = ("_grader_import", "_grader_import_all", "_grader_left_out")


def _guarded(found: LiftedImport, names: list[str]) -> str:
    """The line of the lifted module that stands for an import binding ``names``: run in its
    guard, or left out (a call that does nothing, so that :func:`as_written` gives the statement
    back)."""
    if not found.kept or found.module:
        return f"_grader_left_out({found.cell}, {found.statement!r})\n"
    if not names:
        return f"_grader_import_all({found.cell}, {found.statement!r})\n"
    quoted = ", ".join(repr(name) for name in names)
    return f"{', '.join(names)} = _grader_import({found.cell}, {found.statement!r}, {quoted})\n"


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
    return "\n".join(lines).replace(_PRELUDE, "", 1)


_HEADER = "# lifted from "


def _guarded_statement(node: ast.stmt) -> str | None:
    """The import statement of a line :func:`_guarded` wrote (``names = _grader_import(cell,
    'statement', ...)``, ``_grader_import_all(cell, 'statement')`` or ``_grader_left_out(cell,
    'statement')``, one line), "" for the line naming the notebook, or ``None``."""
    if node.lineno != node.end_lineno:
        return None
    if (isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and node.targets[0].id == _NOTEBOOK):
        return ""
    call = node.value if isinstance(node, (ast.Assign, ast.Expr)) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id in _HELPERS and len(call.args) >= 2
            and isinstance(call.args[1], ast.Constant) and isinstance(call.args[1].value, str)):
        return None
    return call.args[1].value


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


def import_notes(notebook: Path, lifted: Lifted) -> list[str]:
    """Sentences for the result about the notebook's imports: those not run (only the demo used
    them; known failures first), those run that are known to fail and what uses them, and names
    imported from the lifted module that the notebook does not define."""
    notes = []
    demo = sorted((i for i in lifted.imports if not i.kept and not i.module),
                  key=lambda i: not i.why)
    if demo:
        shown = [f"`{i.statement}` (cell {i.cell}{f': {i.why}' if i.why else ''})"
                 for i in demo[:_SHOWN]]
        more = f", and {len(demo) - _SHOWN} more" if len(demo) > _SHOWN else ""
        notes.append(f"{notebook.name}: not run, as only its demo code uses what they import: "
                     f"{', '.join(shown)}{more}")
    for found in lifted.imports:
        if found.kept and found.fails:
            users = ", ".join(found.users[:_SHOWN]) + (", ..." if len(found.users) > _SHOWN else "")
            who = (f"{users} use{'s' if len(found.users) == 1 else ''} it" if found.users
                   else "only what uses it fails")
            notes.append(f"{notebook.name}: cell {found.cell}'s `{found.statement}`: "
                         f"{found.fails}; {who}")
        if found.own:
            close = [f"{name} (did you mean {near}?)" if near else name
                     for name, near in ((n, closest(n, lifted.cells)) for n in found.own)]
            notes.append(f"{notebook.name}: cell {found.cell} imports {', '.join(close)} from "
                         f"{found.module}.py, which was not handed in, and the notebook does not "
                         f"define {'it' if len(close) == 1 else 'them'}")
    return notes[:_SHOWN + 2]


def closest(wanted: str, names: Iterable[str]) -> str | None:
    """The name of ``names`` closest to ``wanted`` (``my_imfliter`` for ``my_imfilter``; the same
    name without case and underscores: ``myImfilter``), else ``None``."""
    names = [name for name in names if name != wanted]
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {name.lower().replace("_", ""): name for name in names}
    return lowered.get(wanted.lower().replace("_", ""))


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
