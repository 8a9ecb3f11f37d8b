"""The rubric: one YAML file per assignment, parsed into one validated model.

An invalid rubric (unknown key, wrong type, missing target, duplicate id,
unknown generator) fails with one sentence naming the file, the line and the
field, e.g. ``rubrics/x.yaml, line 14, checks[2].points: Input should be a
valid number``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grader import environments, inputs
from grader.checks import KINDS
from grader.checks.base import KIND_FIELDS
from grader.environments import EnvironmentSpec
from grader.errors import GraderError, RubricError
from grader.yaml_lines import line_of, load_with_lines

Visibility = Literal["visible", "hidden", "after_due"]
Device = Literal["cpu", "cuda", "any"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Case(_Strict):
    """One set of inputs for a check: argument name → generator spec."""

    id: str | None = None
    args: dict[str, Any]

    @field_validator("args")
    @classmethod
    def _known_generators(cls, args: dict[str, Any]) -> dict[str, Any]:
        for name, spec in args.items():
            problem = inputs.check_spec(spec)
            if problem:
                raise _LocatedError((name,), f"argument {name!r}: {problem}", relative=True)
        return args


class Diagnosis(_Strict):
    """A classic mistake, recognised by its output: ``argument`` transformed by ``transform``."""

    argument: str
    transform: str
    message: str

    @field_validator("transform")
    @classmethod
    def _known_transform(cls, name: str) -> str:
        if name not in inputs.TRANSFORMS:
            raise ValueError(f"unknown transform {name!r}; choose one of {sorted(inputs.TRANSFORMS)}")
        return name


class Comparison(_Strict):
    """How a returned array is compared with the expected one."""

    atol: float = 1e-5
    rtol: float = 1e-5
    region: Literal["full", "interior"] = "full"
    margin_from: str | None = Field(
        default=None, description="interior margin = half of this argument's (k, l) shape"
    )
    outputs: list[str] | None = Field(
        default=None, description="names of the returned values, in order, for messages"
    )


class ForbiddenCalls(_Strict):
    """Library calls a course rule forbids inside one student function."""

    function: str
    calls: list[str]
    penalty: float = Field(1.0, ge=0.0, le=1.0, description="fraction of the function's points lost")
    reason: str = ""


class Check(_Strict):
    """One graded check: what to call, on which cases, for how many points."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    kind: str
    target: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    points: float = Field(ge=0)
    reference: str | None = None
    cases: list[Case] = Field(min_length=1)
    compare: Comparison = Comparison()
    diagnoses: list[Diagnosis] = []
    partial: Literal["cases", "all"] = "cases"
    timeout_s: float | None = Field(default=None, gt=0)
    memory_mb: int | None = Field(default=None, gt=0)
    device: Device = "cpu"
    visibility: Visibility = "visible"
    requires: list[str] = []
    options: dict[str, Any] = Field(default_factory=dict, description="kind-specific settings")

    @property
    def module(self) -> str:
        return self.target.split(":")[0]

    @property
    def function(self) -> str:
        return self.target.split(":")[1]


class Defaults(_Strict):
    timeout_s: float = Field(30.0, gt=0)
    memory_mb: int = Field(2048, gt=0)
    import_timeout_s: float = Field(60.0, gt=0)
    submission_timeout_s: float | None = Field(
        None, gt=0, description="wall-clock budget of one submission's grading: the checks "
        "left when it is spent are not run (timeout), and what was earned is kept")
    load_timeout_s: float = Field(
        30.0, gt=0, description="wall-clock limit on the trusted side's preparation of one "
        "submission before its code runs (extracting, lifting notebooks, hashing, scanning the "
        "source: grader/intake.py); a submission over it is not graded (error)")


class LatePolicy(_Strict):
    """Penalty for late submissions: a fraction of the score per started day after ``due``."""

    due: dt.datetime
    grace_minutes: float = Field(0, ge=0)
    penalty_per_day: float = Field(0.1, ge=0, le=1)
    max_late_days: int | None = Field(None, ge=0, description="later than this scores zero")
    trust_file_times: bool = Field(False, description="without a platform time, use the "
                                   "archive's and files' timestamps (the student writes them)")


class Compat(_Strict):
    """Compatibility shims applied inside the sandbox (the report says which were used)."""

    numpy_aliases: bool = False


class Rubric(_Strict):
    """A whole assignment's rubric."""

    assignment: str
    title: str = ""
    reference: str | dict[str, str] = Field(description="the answer key: one reference module "
                                            "for every student module, or {student module: "
                                            "reference module}")
    defaults: Defaults = Defaults()
    compat: Compat = Compat()
    isolation: Literal["strict", "best_effort"] = Field(
        "best_effort", description="strict: grade only where every isolation guarantee holds "
        "(grader doctor says which do)")
    requirements: list[str] = []
    provided: list[str] = Field(default_factory=list, description="files the course provides "
                                "(e.g. utils.py, from assignments/ASSIGNMENT/): the kit's copy "
                                "replaces a student's file of that name")
    provided_files: dict[str, str] = Field(default_factory=dict, description="the provided "
                                           "files' text, filled in by load_rubric")
    environment: str | None = Field(None, description="the course environment student code "
                                    "runs in (rubrics/environments/NAME.yaml); none: the "
                                    "harness's own Python")
    environment_spec: EnvironmentSpec | None = Field(None, description="its definition, "
                                                     "filled in by load_rubric")
    forbidden_calls: list[ForbiddenCalls] = []
    late: LatePolicy | None = None
    leaderboard: list[str] = Field(default_factory=list, description="check ids whose accuracy "
                                   "goes on the Gradescope leaderboard")
    checks: list[Check] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        seen: set[str] = set()
        for index, check in enumerate(self.checks):
            if check.id in seen:
                raise _LocatedError(("checks", index, "id"), f"duplicate check id {check.id!r}")
            seen.add(check.id)
            _valid_for_kind(index, check)
            if isinstance(self.reference, dict) and check.module not in self.reference:
                raise _LocatedError(("checks", index, "target"),
                                    f"student module {check.module!r} has no reference module "
                                    f"in the rubric's reference: {sorted(self.reference)}")
            for required in check.requires:
                if required not in seen:
                    raise _LocatedError(("checks", index, "requires"),
                                        f"requires unknown or later check {required!r}")
        return self

    def timeout_for(self, check: Check) -> float:
        return check.timeout_s or self.defaults.timeout_s

    def memory_for(self, check: Check) -> int:
        return check.memory_mb or self.defaults.memory_mb

    def reference_for(self, check: Check) -> str:
        """``module:function`` of the reference that computes the expected output."""
        return check.reference or f"{self.reference_modules[check.module]}:{check.function}"

    @property
    def reference_modules(self) -> dict[str, str]:
        """Student module → the reference module that answers it: the one mapping that
        preparation, the audit and the kit tests read."""
        if isinstance(self.reference, str):
            return {module: self.reference for module in self.modules}
        return dict(self.reference)

    @property
    def modules(self) -> list[str]:
        """Student module names the checks target, in first-use order."""
        return list(dict.fromkeys(check.module for check in self.checks))


def _valid_for_kind(index: int, check: Check) -> None:
    """Raise the located error of ``checks[index]`` if its kind is unknown, or finds its
    options or the rest of it (:meth:`~grader.checks.base.CheckKind.check_problem`) wrong."""
    if check.kind not in KINDS:
        raise _LocatedError(("checks", index, "kind"),
                            f"unknown kind {check.kind!r}; choose one of {sorted(KINDS)}")
    kind = KINDS[check.kind]
    for name in sorted(check.model_fields_set & set(KIND_FIELDS) - kind.reads):
        readers = sorted(other for other, known in KINDS.items() if name in known.reads)
        raise _LocatedError(("checks", index, name),
                            f"{check.kind} checks do not use {name!r} (only "
                            f"{' and '.join(readers)} checks do): remove it")
    problem = kind.options_problem(check.options)
    if problem:
        raise _LocatedError(("checks", index, "options"), problem)
    found = kind.check_problem(check)
    if found:
        raise _LocatedError(("checks", index, *found.where), found.message)


class _LocatedError(ValueError):
    """A cross-field error that knows which field it is about."""

    def __init__(self, loc: tuple[Any, ...], message: str, relative: bool = False):
        super().__init__(message)
        self.loc, self.relative = loc, relative


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
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(_describe(path, lines, exc)) from None
    if rubric.provided and not rubric.provided_files:
        data = {**data, "provided_files": _read_provided(path, lines, rubric)}
        rubric = rubric.model_copy(update={"provided_files": data["provided_files"]})
    if rubric.environment and rubric.environment_spec is None:
        spec, raw = _read_environment(path, lines, rubric.environment)
        data = {**data, "environment_spec": raw}
        rubric = rubric.model_copy(update={"environment_spec": spec})
    return rubric, rubric_hash(data)


def _read_environment(path: Path, lines: dict, name: str) -> tuple[EnvironmentSpec, dict]:
    """The definition of the rubric's environment (so the rubric's hash changes with it)."""
    try:
        return environments.load(environments.definitions_dir(path.resolve().parent), name)
    except GraderError as exc:
        raise RubricError(f"{path}, line {line_of(lines, ('environment',)) or '?'}, environment: "
                          f"{exc}") from None


def _read_provided(path: Path, lines: dict, rubric: Rubric) -> dict[str, str]:
    """The text of each provided file, from ``assignments/ASSIGNMENT/`` (so the rubric's hash
    changes when one of them does)."""
    from grader.assignments import kit_dir

    folder = kit_dir(rubric.assignment)
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
    if isinstance(located, _LocatedError):
        loc = loc + located.loc if located.relative else located.loc
        message = str(located)
    message = message.removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    elif error["type"] == "missing":
        message = f"missing required field {loc[-1]!r}"
    line = line_of(lines, loc)
    where = f", line {line}" if line else ""
    field = _dotted(loc) or "(top level)"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{path}{where}, {field}: {message}{more}"


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
