"""What every check kind shares: run each case in the sandbox, turn verdicts into a result.

A kind only says how to judge one returned value (:meth:`CheckKind.judge`);
this module handles everything that can go wrong before there is a value —
timeouts, memory, crashes, missing functions, exceptions — the same way for
every kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

from grader.checks import _old_apis as old_apis
from grader.checks._options import KindOptions, first_problem
from grader.prepare.prepared import PreparedCase, PreparedCheck, as_outputs
from grader.results import CheckResult, Status
from grader.rubric.model import Check
from grader.sandbox import CallOutcome, Ref, Step
from grader.sandbox.call_limits import CallLimits, CaseLimit

# Outcomes after which running the remaining cases would only repeat the failure.
_FATAL = {"timeout": Status.TIMEOUT, "memory": Status.MEMORY, "missing_module": Status.ERROR,
          "missing_function": Status.ERROR, "import_failed": Status.ERROR}


@dataclass
class Verdict:
    """The judgement of one case: passed or not, one sentence, the numbers behind it."""

    passed: bool
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    status: Status | None = None  # overrides FAILED for a failing case (e.g. ERROR)
    credit: float | None = None  # fraction of the case earned; default 1 if passed else 0
    artifacts: dict[str, Any] = field(default_factory=dict)  # arrays for the report's figures
    metric: float | None = None  # the number the case measured (CheckResult.metric)
    device: str = ""  # where the case's student code ran, when known (CheckResult.device)

    @property
    def earned(self) -> float:
        return float(self.passed) if self.credit is None else min(max(self.credit, 0.0), 1.0)


class Calls(Protocol):
    """What a check calls the student's code through: a :class:`~grader.sandbox.SandboxSession`,
    or the call memo in front of one (:mod:`grader.sandbox.memo`)."""

    def call(self, module: str, function: str, args: list[Any], timeout_s: float) -> CallOutcome:
        ...

    def run(self, module: str, steps: list[Step], returns: list[Ref] | None,
            timeout_s: float, cpu_limit_s: float | None = None) -> CallOutcome:
        ...

    def stop(self) -> None:
        ...


@dataclass
class CheckContext:
    """What a check needs besides its own data: the sandbox and the time limit.

    ``cap`` shortens the limit to what is left of the submission's time budget.

    ``observe``, if given, is told every case's outcome as it comes back
    (check id, case number, outcome): the mutation audit records outputs that way.

    ``limits`` (one per submission's grading; ``None``: every call gets ``limit_s``) gives
    each case its limit, calibrated on the reference's time and shortened while the
    function is on probation (:mod:`grader.sandbox.call_limits`); ``case`` is the limit of
    the case in flight.
    """

    session: Calls
    limit_s: float
    observe: Callable[[str, int, CallOutcome], None] | None = None
    cap: Callable[[float], float] = field(default=lambda seconds: seconds)
    limits: CallLimits | None = None
    case: CaseLimit | None = None

    @property
    def timeout_s(self) -> float:
        """The case's time limit, shortened to what is left of the submission's budget."""
        return self.cap(self.case.seconds if self.case is not None else self.limit_s)

    def for_case(self, check: Check, case: PreparedCase, calibrated: bool) -> CheckContext:
        """This context with the limit of the next call of ``check``'s function on ``case``."""
        if self.limits is None:
            return self
        return replace(self, case=self.limits.limit(check.target, self.limit_s, case.reference_s,
                                                    calibrated))

    def ended(self, check: Check, outcome: CallOutcome) -> None:
        """Tell the limits how a call of ``check``'s function ended (a hang puts it on
        probation)."""
        if self.limits is not None:
            self.limits.ended(check.target, outcome)


@dataclass(frozen=True)
class CheckProblem:
    """What is wrong with one check of a rubric, found at load time: one sentence, and
    ``where`` inside the check it is (e.g. ``("cases", 2, "args")``; empty: the check
    itself), so the rubric's error names the file, the line and the field."""

    message: str
    where: tuple[str | int, ...] = ()


def missing_arguments(check: Check, names: Sequence[str]) -> CheckProblem | None:
    """The problem of the first case of ``check`` that lacks one of the arguments ``names``."""
    for index, case in enumerate(check.cases):
        missing = [name for name in names if name not in case.args]
        if missing:
            return CheckProblem(f"kind {check.kind!r} needs argument(s) {missing} in every case "
                                f"({', '.join(names)})", ("cases", index, "args"))
    return None


KIND_FIELDS = ("compare", "diagnoses")  # check fields that mean something to some kinds only


class CheckKind:
    """Base class of check kinds; subclasses set :attr:`name` and implement :meth:`judge`.

    A kind may also accept ``options`` in the rubric (typed by :attr:`options_model`, validated
    at load time by :meth:`options_problem`), demand more of the check, such as the arguments
    its cases name (:meth:`check_problem`, also at load time), and compute its
    expected outputs its own way from the reference module (:meth:`expected_outputs`,
    trusted side only).
    """

    name: ClassVar[str]
    # True for kinds whose request for a case does the work the reference did to compute its
    # expected outputs (one call of the target on the case's arguments): their limits follow
    # the reference's time on the case (grader.sandbox.call_limits)
    calibrated: ClassVar[bool] = False
    # True for kinds whose calls must really run every time (timing, training): the others
    # get a session that reuses the outcome of an identical earlier request (sandbox.memo)
    fresh_calls: ClassVar[bool] = False
    # names of the steps of a multi-step request, for messages that say which one failed
    step_names: ClassVar[tuple[str, ...]] = ()
    # the fields of a check that only some kinds read (KIND_FIELDS) which this kind reads: a
    # rubric that sets another on a check of this kind is refused when it is loaded
    reads: ClassVar[frozenset[str]] = frozenset()
    # the rubric's ``options:`` of a check of this kind, typed; the base model takes none
    options_model: ClassVar[type[KindOptions]] = KindOptions

    @classmethod
    def options_problem(cls, options: dict[str, Any]) -> CheckProblem | None:
        """What is wrong with ``options`` for this kind (one sentence, at the option), or ``None``."""
        found = first_problem(cls.options_model, cls.name, options)
        return CheckProblem(found[1], ("options", *found[0])) if found else None

    @classmethod
    def check_problem(cls, check: Check) -> CheckProblem | None:
        """What this kind finds wrong with ``check`` beyond its options, or ``None``.

        Called when the rubric is loaded, once :meth:`options_problem` has passed, so that a
        rubric error never waits for grading to surface.
        """
        return None

    @classmethod
    def expected_outputs(cls, module: Any, function: str, check: Check, args: list[Any]) -> list[Any]:
        """The expected outputs for ``args``: by default, the reference function's return value."""
        return as_outputs(getattr(module, function)(*args))

    @classmethod
    def figures(cls, result: CheckResult, arrays: dict[str, Any]) -> list[Any]:
        """The report's figures of ``result`` (its ``arrays`` are its recorded artifacts), drawn
        with :mod:`grader.figures` (imported when a report draws); none by default."""
        return []

    @classmethod
    def reproducible_outputs(cls, outputs: list[Any]) -> list[Any]:
        """The outputs that two runs of the same code return identically (all, by default).

        The mutation audit compares these to tell an equivalent mutant from a survivor.
        """
        return outputs

    def run(self, prepared: PreparedCheck, context: CheckContext) -> CheckResult:
        verdicts: list[Verdict] = []
        stdout, seconds = [], 0.0
        for number, case in enumerate(prepared.cases):
            given = context.for_case(prepared.check, case, self.calibrated)
            outcome = self.invoke(case, prepared, given)
            context.ended(prepared.check, outcome)
            if context.observe:
                context.observe(prepared.check.id, number, outcome)
            seconds += outcome.seconds
            if outcome.stdout:
                stdout.append(outcome.stdout)
            verdicts.append(_limit_explained(self._verdict(outcome, case, prepared), outcome,
                                             given.case))
            if outcome.status in _FATAL:
                verdicts += [Verdict(False, "not run after the previous case failed",
                                     status=_FATAL[outcome.status])] * (
                    len(prepared.cases) - len(verdicts))
                break
        return self._result(prepared, verdicts, "".join(stdout), seconds)

    def invoke(self, case: PreparedCase, prepared: PreparedCheck,
               context: CheckContext) -> CallOutcome:
        """Run the student's code on one case in the sandbox (default: one call of the target)."""
        check = prepared.check
        return context.session.call(check.module, check.function, case.args, context.timeout_s)

    def judge(self, outputs: list[Any], case: PreparedCase, prepared: PreparedCheck,
              outcome: CallOutcome) -> Verdict:
        """Score what one case returned (trusted side); subclasses implement it."""
        raise NotImplementedError

    # -- shared plumbing ---------------------------------------------------

    def _verdict(self, outcome: CallOutcome, case: PreparedCase, prepared: PreparedCheck) -> Verdict:
        if outcome.status == "returned":
            try:
                verdict = self.judge(outcome.outputs, case, prepared, outcome)
            except Exception as exc:  # noqa: BLE001 - an unexpected output must not sink the batch
                return Verdict(False, f"the grader could not score what {prepared.check.function} "
                                      f"returned ({type(exc).__name__}: {exc})", status=Status.ERROR)
            verdict.details.setdefault("seconds", round(outcome.seconds, 4))
            return verdict
        failed = prepared.check.function
        if outcome.step is not None and outcome.step < len(self.step_names):
            failed = self.step_names[outcome.step]
        return _failure_verdict(outcome, failed)

    def _result(self, prepared: PreparedCheck, verdicts: list[Verdict], stdout: str,
                seconds: float) -> CheckResult:
        check = prepared.check
        passed = sum(v.passed for v in verdicts)
        if check.partial == "cases":
            fraction = sum(v.earned for v in verdicts) / len(verdicts) if verdicts else 0.0
        else:
            fraction = float(passed == len(verdicts))
        failures = [(case, v) for case, v in zip(prepared.cases, verdicts) if not v.passed]
        status = Status.PASSED if not failures else _worst_status([v for _, v in failures], passed)
        notes = list(dict.fromkeys(n for v in verdicts for n in v.details.get("notes", [])))
        message = "; ".join([_message(check.visibility, failures, len(verdicts)),
                             *_status_clause(check.visibility, failures, status)]
                            + [f"note: {n}" for n in notes])
        details: dict[str, Any] = {"cases": len(verdicts), "cases_passed": passed}
        if any(v.credit is not None for v in verdicts):
            details["case_credits"] = [round(v.earned, 6) for v in verdicts]
        if failures:
            details["failed_case"] = failures[0][0].id
        shown = failures[0][1] if failures else (verdicts[0] if verdicts else None)
        if shown is not None:  # the numbers behind the message (or the first case's, on a pass)
            details = {**shown.details, **details}
        if notes:
            details["notes"] = notes
        return CheckResult(
            id=check.id, name=check.name, target=check.function, status=status,
            score=round(check.points * fraction, 6), max_score=check.points, message=message,
            details=details, stdout=stdout, duration_s=round(seconds, 4),
            visibility=check.visibility, artifacts=shown.artifacts if shown else {},
            kind=self.name, metric=shown.metric if shown else None,
            device=next((v.device for v in verdicts if v.device), ""),
        )


def output_name(index: int, count: int, check: Check) -> str:
    """How a message names output ``index`` of ``count``: by the rubric's name for it, as
    "the output" when it is the only one, else by its place ("output 2")."""
    names = check.compare.outputs or []
    if index < len(names):
        return names[index]
    return "the output" if count == 1 else f"output {index + 1}"


def _failure_verdict(outcome: CallOutcome, function: str) -> Verdict:
    status = _FATAL.get(outcome.status, Status.ERROR)
    texts = {
        "timeout": f"{outcome.error if outcome.during_import else f'{function} {outcome.error}'}"
                   " (time limit)",
        "memory": f"{function} ran out of memory ({outcome.error or 'memory limit'})",
        "missing_module": f"module not found: {outcome.error}",
        "missing_function": outcome.error,
        "import_failed": f"importing your module failed: {outcome.error}",
        "raised": f"{function} raised {outcome.error}",
        "crashed": f"{function} crashed: {outcome.error}",
        "protocol": (f"{function} {outcome.error}" if outcome.error.startswith("broke the sandbox")
                     else f"{function} returned something that could not be read back: "
                          f"{outcome.error}"),
    }
    text = texts.get(outcome.status, outcome.error)
    removed = old_apis.explain(outcome.error) if outcome.status in ("raised", "import_failed") \
        else None
    return Verdict(False, f"{text} — {removed}" if removed else text, status=status,
                   details={"traceback": outcome.traceback} if outcome.traceback else {})


def _limit_explained(verdict: Verdict, outcome: CallOutcome, given: CaseLimit | None) -> Verdict:
    """A timeout's verdict, saying why its call was given less than its full limit (and
    recording it: ``details.shortened_limit``); not one that ended before that limit did (its
    own CPU-time limit, the submission's budget)."""
    if outcome.status != "timeout" or outcome.during_import or given is None \
            or not given.shortened or outcome.seconds < 0.9 * given.seconds:
        return verdict
    verdict.message = f"{verdict.message}; {given.explain()}"
    verdict.details["shortened_limit"] = {"given_s": round(given.seconds, 3),
                                          "full_s": given.full_s, "why": given.why}
    return verdict


def _worst_status(failed: list[Verdict], passed: int) -> Status:
    statuses = [v.status or Status.FAILED for v in failed]
    for severe in (Status.TIMEOUT, Status.MEMORY):
        if severe in statuses:
            return severe
    if passed == 0 and all(s == Status.ERROR for s in statuses):
        return Status.ERROR
    return Status.FAILED


def _status_clause(visibility: str, failures: list, status: Status) -> list[str]:
    """The case that gave the check its status, when it is not the first failure the message
    names (a timeout after an error is a timeout, and the message says where)."""
    if not failures or (failures[0][1].status or Status.FAILED) == status:
        return []
    found = [(c, v) for c, v in failures if v.status == status]
    if not found:
        return []
    case, verdict = found[0]
    where = case.description if visibility == "visible" else "a hidden case"
    return [f"{status.value}: {where}: {verdict.message}"]


def _message(visibility: str, failures: list, total: int) -> str:
    if not failures:
        return f"all {total} cases passed" if total > 1 else "the case passed"
    case, verdict = failures[0]
    if visibility != "visible":
        count = f"{len(failures)} of {total} hidden cases failed" if total > 1 else "the hidden case failed"
        return f"{count}: {verdict.message}"
    if total == 1:
        return f"{case.description}: {verdict.message}"
    return f"{len(failures)} of {total} cases failed; first, {case.description}: {verdict.message}"
