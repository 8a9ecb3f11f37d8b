"""Mutants of a reference module: one small AST rewrite each, applied to the source text.

Each mutant changes exactly one node of a function the rubric grades (or a
helper it calls, or a module constant it reads) and keeps the rest of the file
byte for byte, so its diff against the reference is one or two lines. The
operator set is small on purpose (no mutation library fitted: they drive a
test runner over a package, while we need the mutated *source* of one module
to grade through the sandbox):

==========  ===============================================================
operator    rewrite
==========  ===============================================================
arith       ``+``↔``-``, ``*``↔``/``, ``//``→``/``, ``**``→``*``, ``%``→``//``,
            ``&``↔``|`` (also in augmented assignments)
compare     ``<``↔``<=``, ``>``↔``>=``, ``<``↔``>``, ``==``↔``!=``; ``and``↔``or``
constant    integers ``k``→``k+1`` and ``k-1``; floats ``0.0``↔``1.0``, else ``x``→``2x``;
            ``True``↔``False``
slice       slice bounds ±1 (an absent lower bound becomes 1, an absent upper
            bound -1), a ``::-1`` step dropped; ``range()`` arguments ±1
index       constant subscripts ``a[k]``→``a[k±1]``; ``a[i, j]``→``a[j, i]``; ``axis=k``→``k±1``,
            ``axis=(i, j)``→``(j, i)``
drop        a statement that updates a name (``x = f(x)``, ``x += …``, a bare
            call) becomes ``pass``; a call ``f(a, …)`` becomes ``a``
sign        ``-x``→``x``; a non-zero numeric constant ``c``→``-c``
transpose   ``a.T``→``a``; ``a.transpose(i, j, …)`` with its last two axes swapped
==========  ===============================================================

Not mutated: docstrings, annotations, strings (messages, modes), ``raise``
and ``assert`` statements, ``if`` blocks whose body only raises, and calls to
validation helpers (``_require``, ``_validate*``, ``_check_*``), whether made as
statements or assigned (``image = _check_image(image)``): what they do is
reject bad input, which the kits do not ask of students.

Free choices: a line of the reference ending in ``# audit: free — reason``
holds a value or convention the assignment leaves to the student (a smoothing
width, the border margin); ``# audit: free(constant, sign) — reason`` limits
that to the operators named. Such mutants carry the reason in
:attr:`Mutant.free`: they are correct programs written differently, so the
audit expects them to keep full marks (like the hand-written variants) and
leaves them out of the mutation score.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import io
import random
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

OPERATORS = ("arith", "compare", "constant", "slice", "index", "drop", "sign", "transpose")

_Function = ast.FunctionDef | ast.AsyncFunctionDef
_Located = ast.expr | ast.stmt | ast.keyword  # what a rewrite replaces: nodes with a source span

_ARITH: dict[type[ast.operator], list[type[ast.operator]]] = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
          ast.FloorDiv: [ast.Div], ast.Pow: [ast.Mult], ast.Mod: [ast.FloorDiv],
          ast.BitAnd: [ast.BitOr], ast.BitOr: [ast.BitAnd]}
_COMPARE: dict[type[ast.cmpop], list[type[ast.cmpop]]] = {ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt], ast.Gt: [ast.GtE, ast.Lt],
            ast.GtE: [ast.Gt], ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq]}
_SYMBOL: dict[type[ast.AST], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
           ast.Pow: "**", ast.Mod: "%", ast.BitAnd: "&", ast.BitOr: "|", ast.Lt: "<",
           ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_NOT_SKIPPABLE_CALLS = {"len", "range", "int", "float", "bool", "tuple", "list", "zip", "enumerate",
                        "isinstance", "slice", "min", "max", "dict", "set", "str", "print"}
_LIBRARIES = {"np", "numpy", "ndimage", "scipy"}
_FREE = re.compile(r"#\s*audit:\s*free\b(?:\((?P<operators>[\w\s,]*)\))?[\s:—–-]*(?P<reason>.*)$")


@dataclass(frozen=True)
class Mutant:
    """One mutated copy of one module: where, which operator, what changed, the new source."""

    id: str
    module: str  # the student module name it is written as
    function: str  # the function holding the change, or "<module>" for a module constant
    operator: str
    line: int
    description: str
    source: str
    original: str
    free: str = ""  # the reason given by an ``# audit: free`` comment on its line(s)

    def diff(self) -> str:
        """Unified diff against the reference source (a few lines of context)."""
        name = f"{self.module}.py"
        return "".join(difflib.unified_diff(
            self.original.splitlines(keepends=True), self.source.splitlines(keepends=True),
            f"reference/{name}", f"mutant/{name}", n=2))


@dataclass(frozen=True)
class _Site:
    node: _Located
    function: str


def mutants_of(source: str, module: str, targets: set[str],
               provided: frozenset[str] = frozenset()) -> list[Mutant]:
    """Every mutant of ``source`` inside ``targets``, their helpers and the constants they read.

    A target that is a class stands for its methods and those of the module
    classes it derives from (``SimpleNet.__init__``, ``_BlockNet.forward``).
    Helpers named in ``provided`` (the kit gives students their code, e.g. the
    course's ``utils.get_mean_std``) are not mutated.

    Deterministic: the same source and targets give the same mutants in the
    same order (AST walk order, then operator order); duplicates (two
    rewrites giving the same text) are kept once.
    """
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    methods = _methods({n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}, targets)
    called = {n.id for m in methods.values() for n in ast.walk(m) if isinstance(n, ast.Name)}
    reached = {name: functions[name] for name in _reachable(functions, targets | called, provided)}
    reached |= methods
    constants = _module_constants(tree, list(reached.values()))
    offsets = _line_offsets(source)
    free = free_lines(source)
    found: list[Mutant] = []
    seen = {hashlib.sha256(source.encode()).hexdigest()}
    sites = [_Site(node, "<module>") for node in constants]
    for name, node in sorted(reached.items(), key=lambda item: item[1].lineno):
        sites += [_Site(child, name) for child in _function_nodes(node)
                  if isinstance(child, (ast.expr, ast.stmt, ast.keyword))]  # the rewritten kinds
    for site in sites:
        for operator, replacement, description in _rewrites(site.node):
            mutated = _splice(source, offsets, site.node, replacement)
            digest = hashlib.sha256(mutated.encode()).hexdigest()
            if digest in seen or not _compiles(mutated):
                continue
            seen.add(digest)
            found.append(Mutant(
                id=f"{module}-{len(found) + 1:04d}", module=module, function=site.function,
                operator=operator, line=site.node.lineno, description=description,
                source=mutated, original=source, free=_free_reason(site.node, operator, free)))
    return found


@dataclass(frozen=True)
class FreeLine:
    """An ``# audit: free`` comment: its reason and the operators it covers (empty: all)."""

    reason: str
    operators: frozenset[str]

    def covers(self, operator: str) -> bool:
        return not self.operators or operator in self.operators


def free_lines(source: str) -> dict[int, FreeLine]:
    """``{line number: FreeLine}`` for every line ending in an ``# audit: free`` comment."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and (match := _FREE.search(token.string)):
            operators = frozenset(o.strip() for o in (match["operators"] or "").split(",") if o.strip())
            unknown = operators - set(OPERATORS)
            if unknown:
                raise ValueError(f"line {token.start[0]}: unknown mutation operator(s) "
                                 f"{sorted(unknown)} in '# audit: free(...)'; known: {OPERATORS}")
            found[token.start[0]] = FreeLine(match["reason"].strip() or "marked free in the reference",
                                             operators)
    return found


def _free_reason(node: _Located, operator: str, free: dict[int, FreeLine]) -> str:
    """The reason when every line ``node`` spans is marked free for ``operator``, else ``""``."""
    lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
    if all(line in free and free[line].covers(operator) for line in lines):
        return free[node.lineno].reason
    return ""


def sample(mutants: list[Mutant], limit: int | None, seed: int) -> list[Mutant]:
    """At most ``limit`` mutants chosen with ``random.Random(seed)``, kept in their order."""
    if limit is None or len(mutants) <= limit:
        return list(mutants)
    chosen = sorted(random.Random(seed).sample(range(len(mutants)), limit))
    return [mutants[i] for i in chosen]


def one_per_line(mutants: list[Mutant], seed: int) -> list[Mutant]:
    """One mutant of each (module, line), chosen with ``random.Random(seed)``, kept in their order.

    A sampled audit grades the free choices this way: every free line is still
    shown to keep full marks under one of its rewrites.
    """
    lines: dict[tuple[str, int], list[int]] = {}
    for index, mutant in enumerate(mutants):
        lines.setdefault((mutant.module, mutant.line), []).append(index)
    rng = random.Random(seed)
    return [mutants[i] for i in sorted(rng.choice(group) for group in lines.values())]


# -- which code is mutated ---------------------------------------------------

def _reachable(functions: dict[str, _Function], targets: set[str],
               provided: frozenset[str] = frozenset()) -> set[str]:
    """``targets`` and every module function they call, transitively, except ``provided`` ones."""
    reached, stack = set(), [t for t in targets if t in functions and t not in provided]
    while stack:
        name = stack.pop()
        if name in reached:
            continue
        reached.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Name) and node.id in functions and node.id not in reached \
                    and node.id not in provided:
                stack.append(node.id)
    return reached


def _methods(classes: dict[str, ast.ClassDef], targets: set[str]) -> dict[str, _Function]:
    """``{"Class.method": node}`` for the target classes and the module classes they derive from."""
    found: dict[str, _Function] = {}
    stack, seen = [t for t in targets if t in classes], set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for item in classes[name].body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[f"{name}.{item.name}"] = item
        stack += [b.id for b in classes[name].bases if isinstance(b, ast.Name) and b.id in classes]
    return found


def _module_constants(tree: ast.Module, used_by: list[_Function]) -> list[ast.expr]:
    """Numeric module-level constants (``N_ORI = 8``) that the mutated functions read."""
    read = {n.id for f in used_by for n in ast.walk(f) if isinstance(n, ast.Name)}
    found = []
    for statement in tree.body:
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id in read
                and _is_number(statement.value)):
            found.append(statement.value)
    return found


def _function_nodes(function: _Function) -> Iterator[ast.AST]:
    """Nodes of ``function`` open to mutation: defaults and body, minus the excluded parts."""
    args = function.args
    for default in [*args.defaults, *[d for d in args.kw_defaults if d is not None]]:
        if _is_number(default) or (isinstance(default, ast.Constant) and isinstance(default.value, bool)):
            yield default
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    for statement in body:
        yield from _walk(statement)


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    if isinstance(node, (ast.Raise, ast.Assert, ast.JoinedStr, ast.FunctionDef, ast.ClassDef)):
        return
    if isinstance(node, ast.If) and all(isinstance(s, ast.Raise) for s in node.body) and not node.orelse:
        return
    if isinstance(node, ast.Expr) and _is_validation_call(node.value):
        return
    if isinstance(node, ast.Assign) and _is_validation_call(node.value):
        return
    if isinstance(node, ast.AnnAssign):
        if node.value is None:
            return
        node = ast.Assign(targets=[node.target], value=node.value)
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _walk(child)


def _is_validation_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
    return name == "_require" or name.startswith(("_validate", "_check"))


# -- the operators -------------------------------------------------------------

def _rewrites(node: ast.AST) -> Iterator[tuple[str, str, str]]:
    """``(operator, replacement source, description)`` for each mutation of ``node``."""
    if isinstance(node, ast.BinOp):
        for new in _ARITH.get(type(node.op), []):
            yield "arith", _unparse(ast.BinOp(node.left, new(), node.right)), \
                f"{_SYMBOL[type(node.op)]} → {_SYMBOL[new]}"
    elif isinstance(node, ast.AugAssign):
        for new in _ARITH.get(type(node.op), []):
            yield "arith", _unparse(ast.AugAssign(node.target, new(), node.value)), \
                f"{_SYMBOL[type(node.op)]}= → {_SYMBOL[new]}="
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for comparison in _COMPARE.get(type(node.ops[0]), []):
            yield "compare", _unparse(ast.Compare(node.left, [comparison()], node.comparators)), \
                f"{_SYMBOL[type(node.ops[0])]} → {_SYMBOL[comparison]}"
    elif isinstance(node, ast.BoolOp):
        swapped = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "compare", _unparse(ast.BoolOp(swapped, node.values)), \
            f"{type(node.op).__name__.lower()} → {type(swapped).__name__.lower()}"
    yield from _constant_rewrites(node)
    yield from _slice_rewrites(node)
    yield from _index_rewrites(node)
    yield from _drop_rewrites(node)
    yield from _sign_rewrites(node)
    yield from _transpose_rewrites(node)


def _constant_rewrites(node: ast.AST) -> Iterator[tuple[str, str, str]]:
    if getattr(node, "_audit_skip_constant", False) or not isinstance(node, ast.Constant):
        return
    value = node.value
    if isinstance(value, bool):
        yield "constant", repr(not value), f"{value} → {not value}"
    elif isinstance(value, int):
        for new in (value + 1, value - 1) if value else (1,):
            yield "constant", repr(new), f"{value} → {new}"
    elif isinstance(value, float):
        changed = {0.0: 1.0, 1.0: 0.0}.get(value, value * 2)
        yield "constant", repr(changed), f"{value!r} → {changed!r}"


def _slice_rewrites(node: ast.AST) -> Iterator[tuple[str, str, str]]:
    if isinstance(node, ast.Slice):
        for part in ("lower", "upper"):
            bound = getattr(node, part)
            if bound is None:
                bound_value = 1 if part == "lower" else -1
                yield "slice", _unparse(_with(node, **{part: ast.Constant(bound_value)})), \
                    f"slice {part} bound None → {bound_value}"
                continue
            _no_constant_mutation(bound)
            for delta, sign in ((1, "+"), (-1, "-")):
                shifted = _shift(bound, delta)
                yield "slice", _unparse(_with(node, **{part: shifted})), f"slice {part} bound {sign}1"
        if _constant_value(node.step) == -1:
            yield "slice", _unparse(_with(node, step=None)), "reversing step ::-1 dropped"
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        for index, arg in enumerate(node.args[:2]):
            _no_constant_mutation(arg)
            for delta, sign in ((1, "+"), (-1, "-")):
                args = list(node.args)
                args[index] = _shift(arg, delta)
                yield "slice", _unparse(_with(node, args=args)), f"range argument {index + 1} {sign}1"


def _index_rewrites(node: ast.AST) -> Iterator[tuple[str, str, str]]:
    if isinstance(node, ast.Subscript):
        index = node.slice
        value = _constant_value(index)
        if isinstance(value, int) and not isinstance(value, bool):
            _no_constant_mutation(index)
            for new in (value + 1, value - 1):
                yield "index", _unparse(_with(node, slice=ast.Constant(new))), f"index [{value}] → [{new}]"
        elif (isinstance(index, ast.Tuple) and len(index.elts) == 2
              and ast.dump(index.elts[0]) != ast.dump(index.elts[1])):
            swapped = ast.Tuple([index.elts[1], index.elts[0]], ast.Load())
            yield "index", _unparse(_with(node, slice=swapped)), "indices [i, j] → [j, i]"
    elif isinstance(node, ast.keyword) and node.arg in ("axis", "axes"):
        value = _constant_value(node.value)
        if isinstance(value, int):
            _no_constant_mutation(node.value)
            for new in (value + 1, value - 1):
                yield "index", _unparse(ast.keyword(node.arg, ast.Constant(new))), f"{node.arg}={value} → {new}"
        elif isinstance(node.value, ast.Tuple) and len(node.value.elts) >= 2:
            for element in node.value.elts:
                _no_constant_mutation(element)
            swapped = ast.Tuple(node.value.elts[::-1], ast.Load())
            yield "index", _unparse(ast.keyword(node.arg, swapped)), f"{node.arg} order reversed"


def _drop_rewrites(node: ast.AST) -> Iterator[tuple[str, str, str]]:
    if isinstance(node, ast.AugAssign) or (
            isinstance(node, ast.Assign) and _assigns_read_name(node)):
        yield "drop", "pass", "statement removed"
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        yield "drop", "pass", "call statement removed"
    elif isinstance(node, ast.Call) and node.args and not isinstance(node.args[0], ast.Starred):
        func = node.func
        if isinstance(func, ast.Name):
            skippable, name = func.id not in _NOT_SKIPPABLE_CALLS, func.id
        else:  # only library functions: a method's first argument is not its operand
            skippable = (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                         and func.value.id in _LIBRARIES)
            name = getattr(func, "attr", "")
        if skippable:
            yield "drop", _unparse(node.args[0]), f"call {name}(…) replaced by its first argument"


def _sign_rewrites(node: ast.AST) -> Iterator[tuple[str, str, str]]:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        _no_constant_mutation(node.operand)
        yield "sign", _unparse(node.operand), "unary minus removed"
    elif (isinstance(node, ast.Constant) and not isinstance(node.value, bool)
          and isinstance(node.value, (int, float)) and node.value != 0
          and not getattr(node, "_audit_skip_constant", False)):
        yield "sign", _unparse(ast.UnaryOp(ast.USub(), node)), f"{node.value!r} → -{node.value!r}"


def _transpose_rewrites(node: ast.AST) -> Iterator[tuple[str, str, str]]:
    if isinstance(node, ast.Attribute) and node.attr == "T":
        yield "transpose", _unparse(node.value), ".T removed"
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
          and node.func.attr == "transpose" and len(node.args) >= 2):
        for arg in node.args:
            _no_constant_mutation(arg)
        args = node.args[:-2] + [node.args[-1], node.args[-2]]
        yield "transpose", _unparse(_with(node, args=args)), "last two transpose axes swapped"


# -- helpers -------------------------------------------------------------------

def _no_constant_mutation(node: ast.AST) -> None:
    """Mark a constant already varied by a more specific operator (index, slice, axis)."""
    if isinstance(node, ast.Constant):
        node._audit_skip_constant = True  # type: ignore[attr-defined]
    elif isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        node.operand._audit_skip_constant = True  # type: ignore[attr-defined]


def _assigns_read_name(node: ast.Assign) -> bool:
    written = {t.id for target in node.targets for t in ast.walk(target) if isinstance(t, ast.Name)}
    read = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
    return bool(written & read)


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool))


def _constant_value(node: ast.AST | None):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -cast(float, node.operand.value)  # a parsed -<constant> negates a number
    return None


def _shift(node: ast.expr, delta: int) -> ast.expr:
    value = _constant_value(node)
    if isinstance(value, int) and not isinstance(value, bool):
        return ast.Constant(value + delta)
    return ast.BinOp(node, ast.Add() if delta > 0 else ast.Sub(), ast.Constant(abs(delta)))


def _with(node: ast.AST, **changes) -> ast.AST:
    fields = {name: getattr(node, name) for name in node._fields}
    return type(node)(**{**fields, **changes})


def _unparse(node: ast.AST) -> str:
    return ast.unparse(ast.fix_missing_locations(node))


def _line_offsets(source: str) -> list[int]:
    offsets, total = [0], 0
    for line in source.splitlines(keepends=True):
        total += len(line.encode())
        offsets.append(total)
    return offsets


def _splice(source: str, offsets: list[int], node: _Located, replacement: str) -> str:
    """``source`` with ``node``'s text replaced (parenthesised when it is an expression)."""
    data = source.encode()
    start = offsets[node.lineno - 1] + node.col_offset
    end = offsets[(node.end_lineno or node.lineno) - 1] + (node.end_col_offset or 0)
    if isinstance(node, ast.expr) and not isinstance(node, ast.Slice) and not _is_atom(replacement):
        replacement = f"({replacement})"
    return (data[:start] + replacement.encode() + data[end:]).decode()


def _is_atom(text: str) -> bool:
    """Whether ``text`` can replace an expression anywhere without parentheses."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False
    if isinstance(node, ast.Constant):
        return not (isinstance(node.value, (int, float)) and node.value < 0)
    return isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call))


def _compiles(source: str) -> bool:
    try:
        compile(source, "<mutant>", "exec")
    except SyntaxError:
        return False
    return True
