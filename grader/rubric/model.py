"""The rubric's model: what a rubric file may say, as validated pydantic models.

Structure only: types, ranges, unknown keys, duplicate ids, references, the inputs' generators.
What each check's kind asks of it (its options, the arguments its cases name, the fields it
reads) is checked where rubrics are loaded (:func:`grader.rubric.load.load_rubric`), against the
registered kinds; the kinds import these models, so this module imports no kind.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from grader import inputs
from grader.rubric.environments import EnvironmentSpec

Visibility = Literal["visible", "hidden", "after_due"]
Device = Literal["cpu", "cuda", "any"]


class _Strict(BaseModel):
    # a field's docstring is its description (the generated rubric reference shows it)
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Case(_Strict):
    """One set of inputs for a check: argument name → generator spec."""

    id: str | None = None
    """the case's name in messages (default: case1, case2, …)"""
    args: dict[str, Any]
    """argument name → ``{generator: {parameters}}``, e.g. ``image: {random: {shape: [20, 30, 3], seed: 1}}``"""

    @field_validator("args")
    @classmethod
    def _known_generators(cls, args: dict[str, Any]) -> dict[str, Any]:
        for name, spec in args.items():
            problem = inputs.check_spec(spec)
            if problem:
                raise LocatedError((name,), f"argument {name!r}: {problem}", relative=True)
        return args


class Diagnosis(_Strict):
    """A classic mistake, recognised by its output: ``argument`` transformed by ``transform``."""

    argument: str
    """the argument the mistake distorts"""
    transform: str
    """how (a transform of grader.inputs.transforms, e.g. ``flip``)"""
    message: str
    """what the student is told when the output matches the distorted one"""

    @field_validator("transform")
    @classmethod
    def _known_transform(cls, name: str) -> str:
        if name not in inputs.TRANSFORMS:
            raise ValueError(f"unknown transform {name!r}; choose one of {sorted(inputs.TRANSFORMS)}")
        return name


class Comparison(_Strict):
    """How a returned array is compared with the expected one."""

    atol: float = 1e-5
    """absolute tolerance"""
    rtol: float = 1e-5
    """relative tolerance"""
    region: Literal["full", "interior"] = "full"
    """compare every pixel, or only those ``margin_from`` away from the borders"""
    margin_from: str | None = Field(
        default=None, description="interior margin = half of this argument's (k, l) shape"
    )
    outputs: list[str] | None = Field(
        default=None, description="names of the returned values, in order, for messages"
    )


class ForbiddenCalls(_Strict):
    """Library calls a course rule forbids inside one student function."""

    function: str
    """the student function the rule is about"""
    calls: list[str]
    """forbidden calls, dotted, ``*`` for a whole module (``scipy.ndimage.*``)"""
    penalty: float = Field(1.0, ge=0.0, le=1.0, description="fraction of the function's points lost")
    reason: str = ""
    """the sentence the student reads"""


class Check(_Strict):
    """One graded check: what to call, on which cases, for how many points."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    """unique in the rubric; the gradebook, overrides and exports name the check by it"""
    name: str
    """what students read"""
    kind: str
    """how it is judged: one of the check kinds below"""
    target: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """the student's ``module:function``"""
    points: float = Field(ge=0)
    """what the check is worth"""
    reference: str | None = None
    """``module:function`` computing the expected output (default: the rubric's reference module, same function name)"""
    cases: list[Case] = Field(min_length=1)
    """the inputs, one case each"""
    compare: Comparison = Comparison()
    """how outputs are compared (kinds that read it)"""
    diagnoses: list[Diagnosis] = []
    """classic mistakes recognised by their output (kinds that read it)"""
    partial: Literal["cases", "all"] = "cases"
    """credit per passing case, or all-or-nothing"""
    timeout_s: float | None = Field(default=None, gt=0)
    """wall-clock limit of each call (default: ``defaults.timeout_s``)"""
    memory_mb: int | None = Field(default=None, gt=0)
    """memory limit of the sandbox (default: ``defaults.memory_mb``)"""
    device: Device = "cpu"
    """where the student's code runs: ``cuda`` needs a GPU, ``any`` takes one if present; a
    sandbox sees the machine's GPUs only where a check of the rubric says ``cuda`` or ``any``"""
    gpu_memory_mb: int | None = Field(default=None, gt=0)
    """GPU memory the student's code may hold on a GPU, MiB (default:
    ``defaults.gpu_memory_mb``): more is a ``memory`` result"""
    visibility: Visibility = "visible"
    """``hidden``: not in the kit, its inputs never shown; ``after_due``: on Gradescope, shown after the due date"""
    requires: list[str] = []
    """check ids that must pass first (else this one is skipped)"""
    options: dict[str, Any] = Field(default_factory=dict, description="kind-specific settings")

    @property
    def module(self) -> str:
        return self.target.split(":")[0]

    @property
    def function(self) -> str:
        return self.target.split(":")[1]


class Level(_Strict):
    """One level of a manual item: the points it gives and what it means."""

    points: float = Field(ge=0)
    """the points this level gives"""
    label: str
    """what a grader checks before picking it, shown to the student with the grade"""


class ManualItem(_Strict):
    """A part of the grade a person gives by looking: at the student's outputs, files, code."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    """unique among the rubric's checks and items"""
    name: str
    """what the grader judges, e.g. 'the hybrid image works at both distances'"""
    points: float = Field(gt=0)
    """what the item is worth"""
    levels: list[Level] = Field(min_length=1)
    """the choices, best first; a grader may also type any points from 0 to ``points``"""
    show: list[str] = Field(default_factory=list)
    """what the grading page shows beside the levels: ``check:ID`` (that check's figures and
    message), ``file:GLOB`` (files of the submission, e.g. ``file:*.pdf``), ``code:MODULE``"""

    @model_validator(mode="after")
    def _levels_within_points(self) -> ManualItem:
        for index, level in enumerate(self.levels):
            if level.points > self.points:
                raise LocatedError(("levels", index, "points"),
                                   f"a level gives {level.points:g}, more than the item's "
                                   f"{self.points:g} points", relative=True)
        for index, shown in enumerate(self.show):
            what, _, target = shown.partition(":")
            if what not in ("check", "file", "code") or not target:
                raise LocatedError(("show", index), f"show {shown!r}: write check:ID, "
                                   "file:GLOB or code:MODULE", relative=True)
        return self

    def files(self) -> list[str]:
        """The globs of the submission's files this item shows."""
        return [s.partition(":")[2] for s in self.show if s.startswith("file:")]

    def modules(self) -> list[str]:
        """The student modules whose code this item shows."""
        return [s.partition(":")[2] for s in self.show if s.startswith("code:")]

    def checks(self) -> list[str]:
        """The checks whose figures and message this item shows."""
        return [s.partition(":")[2] for s in self.show if s.startswith("check:")]


class Calibration(_Strict):
    """How a call's limit follows what the reference takes on the same case on this machine
    (timed when its expected outputs are computed, and sealed with them): at most ``factor``
    times that, never under ``floor_s``, never over the check's ``timeout_s``. Only kinds whose
    request does the reference's work are calibrated (``numeric``); a kit's or a bundle's cases
    carry no time, and get ``timeout_s``."""

    factor: float = Field(60000.0, gt=0)
    """multiple of the reference's time a call may take: loop-based student code runs thousands
    of times slower than the vectorised reference (a four-deep Python loop, 21 000× on proj1's
    25×25 Gaussian), so it is generous"""
    floor_s: float = Field(10.0, gt=0)
    """the shortest limit calibration gives, seconds (what the reference finishes in well under
    a millisecond still gets this)"""


class Probation(_Strict):
    """The limit a function gets after one of its calls did not finish within its limit (a
    real timeout, not one a crowded machine caused), until a call of it finishes again: the
    largest of ``floor_s``, ``factor`` × the longest an earlier call of it took to finish in
    this grading and ``reference_factor`` × the reference's time on the case, never more than
    the call's own limit. A timeout under it says what it was given and why."""

    floor_s: float = Field(2.0, gt=0)
    """the shortest limit a call on probation gets, seconds"""
    factor: float = Field(4.0, gt=0)
    """multiple of the longest an earlier call of the same function took to finish"""
    reference_factor: float = Field(1000.0, gt=0)
    """multiple of the reference's time on the case (calibrated kinds)"""


class Defaults(_Strict):
    timeout_s: float = Field(30.0, gt=0)
    """wall-clock limit of each call, seconds"""
    calibration: Calibration | None = Calibration()
    """calls get limits that follow the reference's time on their case (see below); ``null``:
    every call gets its check's ``timeout_s``"""
    probation: Probation | None = Probation()
    """after a call hangs, the same function's next call gets a short limit first (see
    below); ``null``: every call gets its full limit"""
    memory_mb: int = Field(2048, gt=0)
    """memory limit of a sandbox, MiB"""
    gpu_memory_mb: int = Field(4096, gt=0)
    """GPU memory a sandbox's CUDA allocator may hold, MiB (checks on ``cuda`` or ``any``):
    the training drivers cap PyTorch's allocator there before the student's model is built,
    so that two students sharing a GPU both fit; more is a ``memory`` result"""
    import_timeout_s: float = Field(60.0, gt=0)
    """limit on importing the student's modules, seconds"""
    submission_timeout_s: float | None = Field(
        None, gt=0, description="wall-clock budget of one submission's grading: the checks "
        "left when it is spent are not run (timeout), and what was earned is kept")
    load_timeout_s: float = Field(
        30.0, gt=0, description="wall-clock limit on the trusted side's preparation of one "
        "submission before its code runs (extracting, lifting notebooks, hashing, scanning the "
        "source: grader/intake/timed.py); a submission over it is not graded (error)")


class LatePolicy(_Strict):
    """Penalty for late submissions: a fraction of the score per started day after ``due``."""

    due: dt.datetime
    """the deadline (ISO 8601, with its time zone)"""
    grace_minutes: float = Field(0, ge=0)
    """minutes after ``due`` that still count as on time"""
    penalty_per_day: float = Field(0.1, ge=0, le=1)
    """fraction of the score lost per started late day"""
    max_late_days: int | None = Field(None, ge=0, description="later than this scores zero")
    trust_file_times: bool = Field(False, description="without a platform time, use the "
                                   "archive's and files' timestamps (the student writes them)")


class Compat(_Strict):
    """Compatibility shims applied inside the sandbox (the report says which were used)."""

    numpy_aliases: bool = False
    """restore aliases numpy removed (``np.float``, ``np.int``, …) for old student code"""


class Rubric(_Strict):
    """A whole assignment's rubric."""

    assignment: str
    """the assignment's name (a folder assignment's name is its own choice)"""
    title: str = ""
    """shown on every report"""
    reference: str | dict[str, str] = Field(description="the answer key: one reference module "
                                            "for every student module, or {student module: "
                                            "reference module}")
    defaults: Defaults = Defaults()
    """limits every check inherits"""
    compat: Compat = Compat()
    """compatibility shims for old student code"""
    isolation: Literal["strict", "best_effort"] = Field(
        "best_effort", description="strict: grade only where every isolation guarantee holds "
        "(grader doctor says which do)")
    requirements: list[str] = []
    """pip requirements the kit and the Gradescope bundle install beside the harness"""
    provided: list[str] = Field(default_factory=list, description="files the course provides "
                                "(e.g. utils.py, from the kit folder): the kit's copy "
                                "replaces a student's file of that name")
    provided_files: dict[str, str] = Field(default_factory=dict, description="the provided "
                                           "files' text, filled in by load_rubric")
    environment: str | None = Field(None, description="the course environment student code "
                                    "runs in (environments/NAME.yaml beside the assignment); none: the "
                                    "harness's own Python")
    environment_spec: EnvironmentSpec | None = Field(None, description="its definition, "
                                                     "filled in by load_rubric")
    forbidden_calls: list[ForbiddenCalls] = []
    """course rules on library calls inside a function"""
    late: LatePolicy | None = None
    """the late policy (none: lateness costs nothing)"""
    leaderboard: list[str] = Field(default_factory=list, description="check ids whose accuracy "
                                   "goes on the Gradescope leaderboard")
    checks: list[Check] = Field(min_length=1)
    """what is graded"""
    manual: list[ManualItem] = []
    """parts of the grade a person gives by looking (graded in ``grader serve``); held from
    students and exports until an instructor publishes the assignment"""

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        seen: set[str] = set()
        for index, check in enumerate(self.checks):
            if check.id in seen:
                raise LocatedError(("checks", index, "id"), f"duplicate check id {check.id!r}")
            seen.add(check.id)
            if isinstance(self.reference, dict) and check.module not in self.reference:
                raise LocatedError(("checks", index, "target"),
                                    f"student module {check.module!r} has no reference module "
                                    f"in the rubric's reference: {sorted(self.reference)}")
            for required in check.requires:
                if required not in seen:
                    raise LocatedError(("checks", index, "requires"),
                                        f"requires unknown or later check {required!r}")
        for index, item in enumerate(self.manual):
            if item.id in seen:
                raise LocatedError(("manual", index, "id"), f"duplicate check or item id {item.id!r}")
            seen.add(item.id)
            for shown in item.checks():
                if shown not in {c.id for c in self.checks}:
                    raise LocatedError(("manual", index, "show"), f"show check:{shown}: the "
                                       "rubric has no such check")
        return self

    def timeout_for(self, check: Check) -> float:
        return check.timeout_s or self.defaults.timeout_s

    def memory_for(self, check: Check) -> int:
        return check.memory_mb or self.defaults.memory_mb

    def gpu_memory_for(self, check: Check) -> int:
        return check.gpu_memory_mb or self.defaults.gpu_memory_mb

    # The folder of the rubric file (set by load_rubric; None for a rubric read from a bundle):
    # where an assignment folder keeps its kit and its reference module. Never in the data.
    _folder: Path | None = PrivateAttr(default=None)

    @property
    def folder(self) -> Path | None:
        """The folder the rubric was loaded from, or ``None`` (a bundle's or a kit's copy)."""
        return self._folder

    def located(self, folder: Path) -> Rubric:
        """This rubric, remembering that its file lies in ``folder``."""
        self._folder = folder
        return self

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


class LocatedError(ValueError):
    """A cross-field error that knows which field it is about."""

    def __init__(self, loc: tuple[Any, ...], message: str, relative: bool = False):
        super().__init__(message)
        self.loc, self.relative = loc, relative
