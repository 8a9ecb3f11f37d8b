"""Course rules read from the submission's source (trusted side, by AST; nothing is executed).

- **Forbidden calls**: the course forbids library filtering inside
  ``my_imfilter``. A call counts when it appears in the function itself or in
  a helper of the same module that the function calls (transitively). Names
  are resolved through the module's imports, so ``import cv2 as cv;
  cv.filter2D`` and ``from scipy.ndimage import convolve as c; c(...)`` are
  both found. Patterns may end in ``.*``.
- **Removed numpy aliases** (``np.float``, ``np.asscalar``, …) are listed so
  the report can say the compatibility shim was needed.

Dynamic tricks (``getattr(cv2, "filter" + "2D")``) are out of reach of a
static scan; the report is a TA's aid, not a proof. A source the scan cannot parse
(invalid here, or nested deeper than the parser goes: :mod:`grader.intake.parsing`) has no calls,
and :func:`unreadable` says why, so the report can say the scan did not look, instead of
that it found nothing. The scan is one parse and two walks of the tree, linear in the source
(the loader caps a graded module at :data:`grader.intake.submission.MAX_SOURCE_BYTES`).
"""

from __future__ import annotations

import ast
import fnmatch
import functools
from dataclasses import dataclass

from grader.intake import parsing

# the names the sandbox's shim restores are the names this scan reports
from grader.worker.compat import REMOVED_NUMPY_NAMES


@dataclass(frozen=True)
class CallSite:
    """A resolved call found in the source: ``name`` is fully qualified (e.g. ``cv2.filter2D``)."""

    name: str
    line: int
    function: str  # the enclosing top-level function ('' at module level)


def find_calls(source: str) -> list[CallSite]:
    """Every use of an imported name in ``source``, fully qualified; [] if it does not parse.

    Only the outermost name of a dotted chain counts (``np.random.rand``, not ``np.random``).
    """
    return list(_calls(source))


def unreadable(source: str) -> str | None:
    """Why the scan cannot read ``source`` (a clause: "it is nested too deeply for the
    parser"), or ``None`` when it can."""
    tree = _parsed(source)
    return tree if isinstance(tree, str) else None


@functools.lru_cache(maxsize=32)
def _calls(source: str) -> tuple[CallSite, ...]:
    """:func:`find_calls`, once per source (every rule of a grading reads the same modules)."""
    tree = _parsed(source)
    if isinstance(tree, str):
        return ()
    with parsing.collector_paused():  # the walks make objects as fast as the parse did
        return _sites(tree)


def _sites(tree: ast.Module) -> tuple[CallSite, ...]:
    """One walk for the imports, one for the names and which of them sit in a longer chain."""
    aliases = _import_aliases(tree)
    inner: set[int] = set()
    names: list[tuple[str, ast.Attribute | ast.Name]] = []
    for function, node in _walk_with_function(tree):
        if isinstance(node, (ast.Attribute, ast.Name)):
            names.append((function, node))
            if isinstance(node, ast.Attribute):
                inner.add(id(node.value))
    sites = []
    for function, node in names:
        name = None if id(node) in inner else _qualified(node, aliases)
        if name and "." in name:
            sites.append(CallSite(name, node.lineno, function))
    return tuple(sites)


@functools.lru_cache(maxsize=32)
def _parsed(source: str) -> ast.Module | str:
    """The tree of ``source``, or why there is none (see :func:`unreadable`)."""
    try:
        return parsing.parse(source)
    except parsing.Unparsable as exc:
        return str(exc)


def forbidden_calls(source: str, function: str, patterns: list[str]) -> list[CallSite]:
    """Calls matching ``patterns`` inside ``function`` or the module helpers it reaches."""
    reachable = _reachable_functions(source, function)
    return [site for site in find_calls(source)
            if site.function in reachable and any(_matches(site.name, p) for p in patterns)]


def removed_numpy_aliases(source: str) -> list[CallSite]:
    """Uses of numpy names removed in numpy 2 (``np.float``, ``np.asscalar``, …)."""
    return [site for site in find_calls(source)
            if site.name.startswith("numpy.") and site.name.split(".")[1] in REMOVED_NUMPY_NAMES
            and site.name.count(".") == 1]


def _matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) or (
        pattern.endswith(".*") and name == pattern[:-2])


def _import_aliases(tree: ast.Module) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _qualified(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def _walk_with_function(tree: ast.Module):
    for top in tree.body:
        owner = top.name if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)) else ""
        for node in ast.walk(top):
            yield owner, node


@functools.lru_cache(maxsize=64)
def _reachable_functions(source: str, start: str) -> frozenset[str]:
    tree = _parsed(source)
    if isinstance(tree, str):
        return frozenset()
    bodies = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    reached, stack = set(), [start]
    with parsing.collector_paused():
        while stack:
            name = stack.pop()
            if name in reached or name not in bodies:
                continue
            reached.add(name)
            stack += [n.id for n in ast.walk(bodies[name])
                      if isinstance(n, ast.Name) and n.id in bodies]
    return frozenset(reached)
