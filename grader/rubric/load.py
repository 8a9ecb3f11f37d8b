"""Loading a rubric: one YAML file per assignment, parsed into one validated model.

An invalid rubric (unknown key, wrong type, missing target, duplicate id, unknown generator,
a check its kind finds wrong) fails with one sentence naming the file, the line and the
field, e.g. ``toy/rubric.yaml, line 14, checks[2].points: Input should be a valid number``.
The model itself is :mod:`grader.rubric.model` (its names are importable from here too);
this module checks each check against its kind (:data:`grader.checks.KINDS`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from grader.rubric import environments
from grader.rubric.assignments import kit_folder
from grader.checks import KINDS
from grader.checks.base import KIND_FIELDS
from grader.rubric.environments import EnvironmentSpec
from grader.errors import GraderError, RubricError
from grader.rubric.model import (Case, Check, Compat, Comparison, Defaults, Device, Diagnosis,
                                 ForbiddenCalls, LatePolicy, Rubric, Visibility, LocatedError)
from grader.rubric.yaml_lines import line_of, load_with_lines

__all__ = ["Case", "Check", "Compat", "Comparison", "Defaults", "Device", "Diagnosis",
           "ForbiddenCalls", "LatePolicy", "Rubric", "Visibility", "load_rubric", "rubric_hash",
           "validated"]

def _valid_for_kind(index: int, check: Check) -> None:
    """Raise the located error of ``checks[index]`` if its kind is unknown, or finds its
    options or the rest of it (:meth:`~grader.checks.base.CheckKind.check_problem`) wrong."""
    if check.kind not in KINDS:
        raise LocatedError(("checks", index, "kind"),
                            f"unknown kind {check.kind!r}; choose one of {sorted(KINDS)}")
    kind = KINDS[check.kind]
    for name in sorted(check.model_fields_set & set(KIND_FIELDS) - kind.reads):
        readers = sorted(other for other, known in KINDS.items() if name in known.reads)
        raise LocatedError(("checks", index, name),
                            f"{check.kind} checks do not use {name!r} (only "
                            f"{' and '.join(readers)} checks do): remove it")
    found = kind.options_problem(check.options) or kind.check_problem(check)
    if found:
        raise LocatedError(("checks", index, *found.where), found.message)


def validated(data: dict[str, Any]) -> Rubric:
    """``data`` as a :class:`Rubric`: its structure validated by the model (a
    ``ValidationError``), then each check by its kind (a located error)."""
    rubric = Rubric.model_validate(data)
    for index, check in enumerate(rubric.checks):
        _valid_for_kind(index, check)
    return rubric


def load_rubric(path: Path) -> tuple[Rubric, str]:
    """Parse and validate ``path``; return the rubric and its content hash (hex, 16 chars).

    Raises
    ------
    RubricError
        One sentence naming the file, the line and the field.
    """
    try:
        data, lines = load_with_lines(path)
    except OSError as exc:
        raise RubricError(f"cannot read rubric {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise RubricError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise RubricError(f"{path}, line 1: a rubric must be a mapping with 'assignment' and 'checks'")
    try:
        rubric = validated(data)
    except ValidationError as exc:
        raise RubricError(_describe(path, lines, exc)) from None
    except LocatedError as exc:
        raise RubricError(_sentence(path, lines, exc.loc, str(exc))) from None
    if rubric.provided and not rubric.provided_files:
        data = {**data, "provided_files": _read_provided(path, lines, rubric)}
        rubric = rubric.model_copy(update={"provided_files": data["provided_files"]})
    if rubric.environment and rubric.environment_spec is None:
        spec, raw = _read_environment(path, lines, rubric.environment)
        data = {**data, "environment_spec": raw}
        rubric = rubric.model_copy(update={"environment_spec": spec})
    return rubric.located(path.resolve().parent), rubric_hash(data)


def _read_environment(path: Path, lines: dict, name: str) -> tuple[EnvironmentSpec, dict]:
    """The definition of the rubric's environment (so the rubric's hash changes with it)."""
    try:
        return environments.load(environments.definitions_dir(path.resolve().parent), name)
    except GraderError as exc:
        raise RubricError(f"{path}, line {line_of(lines, ('environment',)) or '?'}, environment: "
                          f"{exc}") from None


def _read_provided(path: Path, lines: dict, rubric: Rubric) -> dict[str, str]:
    """The text of each provided file, from the assignment's kit folder (so the rubric's hash
    changes when one of them does)."""
    folder = kit_folder(path, rubric.assignment)
    found = {}
    for index, name in enumerate(rubric.provided):
        where = f"{path}, line {lines.get(('provided', index), '?')}"
        if Path(name).name != name or not name.endswith(".py"):
            raise RubricError(f"{where}: provided: {name!r} must be a plain .py file name")
        try:
            found[name] = (folder / name).read_text(encoding="utf-8")
        except OSError:
            raise RubricError(f"{where}: provided file {name} is not in {folder}") from None
    return found


def rubric_hash(data: dict[str, Any]) -> str:
    """Hash of the rubric's canonical JSON: equal content gives an equal hash."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _describe(path: Path, lines: dict, exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc, message = tuple(error["loc"]), error["msg"]
    located = error.get("ctx", {}).get("error")
    if isinstance(located, LocatedError):
        loc = loc + located.loc if located.relative else located.loc
        message = str(located)
    message = message.removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    elif error["type"] == "missing":
        message = f"missing required field {loc[-1]!r}"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return _sentence(path, lines, loc, message) + more


def _sentence(path: Path, lines: dict, loc: tuple[Any, ...], message: str) -> str:
    """``path, line N, field: message``."""
    line = line_of(lines, loc)
    where = f", line {line}" if line else ""
    return f"{path}{where}, {_dotted(loc) or '(top level)'}: {message}"


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
