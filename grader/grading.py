"""Grade one submission against one prepared rubric: the trusted orchestration.

Load → run each check in one reused sandboxed worker → score in this process →
apply the course's source rules → one :class:`SubmissionResult`.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import time
from collections.abc import Callable
from importlib import metadata
from dataclasses import replace

import numpy as np

import grader
from grader.rubric import environments
from grader.intake import ipynb, shown_files, source_rules
from grader.rubric.assignments import kit_of
from grader.checks import KINDS
from grader.checks.base import CheckContext, CheckKind
from grader.prepare.prepared import PreparedCheck
from grader.results import CheckResult, Status, SubmissionResult
from grader.rubric.load import ForbiddenCalls, Rubric
from grader.sandbox import CallOutcome, SandboxSession, zygote
from grader.sandbox.call_limits import CallLimits, calibrated
from grader.sandbox.mounts import Interpreter, Limits
from grader.sandbox.memo import CallMemo, encode_recorded
from grader.stamps import now
from grader.intake.submission import Submission


def grade(submission: Submission, rubric: Rubric, rubric_hash: str,
          prepared: list[PreparedCheck], stop_at_first_loss: bool = False,
          observe: Callable[[str, int, CallOutcome], None] | None = None,
          reuse_calls: bool = True, stored: dict[str, CallOutcome] | None = None) -> SubmissionResult:
    """Run every prepared check on ``submission`` and return the scored result.

    An identical student call (same functions, same argument bytes) runs once per grading
    unless ``reuse_calls`` is off (:mod:`grader.sandbox.memo`); each check's result counts
    the calls it reused and ran (``calls_reused``, ``calls_run``). Each call's limit follows
    the reference's time on its case, and is short while its function is on probation after
    a hang (:mod:`grader.sandbox.call_limits`, the rubric's ``defaults.calibration`` and
    ``defaults.probation``).
    ``stored`` outcomes of an earlier grading answer the requests they match (re-scoring);
    the worker starts only if one does not. The result carries every kept outcome
    (``calls``) for the gradebook to store.

    With ``stop_at_first_loss`` (the mutation audit, which only asks *whether*
    a check catches the submission) the checks after the first one short of
    full marks are not run and are left out of the result. ``observe`` is told
    every case's outcome (see :class:`~grader.checks.base.CheckContext`).
    """
    started = now()
    files, file_notes = shown_files.collect(submission.root, submission.modules, rubric.manual)
    interpreter, environment = _environment(rubric)
    session = SandboxSession(
        submission.root, submission.module_dir, limits=_limits(rubric, prepared),
        numpy_aliases=rubric.compat.numpy_aliases,
        import_timeout_s=rubric.defaults.import_timeout_s, interpreter=interpreter,
        preload=zygote.preload_for(kit_of(rubric)),
    )
    budget = Budget(rubric.defaults.submission_timeout_s)
    memo = CallMemo(session, stored, reuse=reuse_calls, context=worker_context(rubric))
    limits = CallLimits(rubric.defaults.calibration, rubric.defaults.probation)
    results: dict[str, CheckResult] = {}
    with session:
        # read before any student code runs: what the sandbox imports, not what it left behind
        sources = {m: _read(session.source_root, submission, m) for m in submission.modules}
        for item in prepared:
            done = results[item.check.id] = budget.spent_result(item.check) or budget.blame(
                _run_check(item, rubric, memo, limits, results, observe, budget.cap))
            if stop_at_first_loss and done.score < done.max_score - 1e-9:
                break
    checks = _apply_source_rules(list(results.values()), sources, rubric)
    result = SubmissionResult(
        student=submission.student, content_hash=submission.content_hash,
        assignment=rubric.assignment, rubric_hash=rubric_hash, checks=checks,
        versions=environment or dict(versions()), device=_device(checks), sandbox=session.isolation or "not started",
        isolation=list(session.layers), isolation_missing=session.missing_layers(),
        warm=session.warm, started_at=started, finished_at=now(),
        notes=submission.notes + _compat_notes(sources, rubric) + file_notes,
        calls=encode_recorded(memo.recorded),
        manual=[item.model_dump(mode="json") for item in rubric.manual], files=files,
    )
    return result


def _environment(rubric: Rubric) -> tuple[Interpreter, dict[str, str]]:
    """The interpreter the student's code runs in (the rubric's course environment, built on
    first use) and the versions the result records: the harness's and the environment's."""
    if rubric.environment_spec is None:
        return Interpreter(), {}
    built = environments.ensure(rubric.environment_spec)
    own = {name: versions()[name] for name in ("harness", "python")}
    return Interpreter(str(built.python), str(built.root)), {**own, **built.versions()}


def worker_context(rubric: Rubric) -> str:
    """What besides a request decides its outcome: the environment, the shims, the provided
    files (empty when all are the defaults, so stored outcomes keep their keys)."""
    parts = {"environment": rubric.environment_spec.key if rubric.environment_spec else None,
             "numpy_aliases": rubric.compat.numpy_aliases or None,
             "provided": rubric.provided_files or None}
    kept = {name: value for name, value in parts.items() if value is not None}
    return json.dumps(kept, sort_keys=True) if kept else ""


class Budget:
    """A submission's wall-clock budget (``submission_timeout_s``; ``None``: unlimited)."""

    def __init__(self, seconds: float | None):
        self._seconds = seconds
        self._ends = None if seconds is None else time.monotonic() + seconds

    def cap(self, timeout_s: float) -> float:
        """``timeout_s`` shortened to what is left of the budget."""
        return timeout_s if self._ends is None else max(0.05, min(timeout_s, self._left()))

    def spent_result(self, check) -> CheckResult | None:
        """A ``timeout`` result for ``check`` once the budget is spent; ``None`` before."""
        if self._ends is None or self._left() > 0:
            return None
        return CheckResult(check.id, check.name, check.function, Status.TIMEOUT, 0.0,
                           check.points, f"not run: the submission's time budget "
                           f"({self._seconds:g} s) is spent", visibility=check.visibility)

    def blame(self, result: CheckResult) -> CheckResult:
        """``result``, saying so when its timeout came from the budget running out."""
        if self._ends is None or result.status != Status.TIMEOUT or self._left() > 0:
            return result
        return replace(result, message=f"{result.message}; the submission's time budget "
                                       f"({self._seconds:g} s) ran out")

    def _left(self) -> float:
        assert self._ends is not None  # only asked of a budget with an end
        return self._ends - time.monotonic()


def _read(root, submission: Submission, module: str) -> str | None:
    """The source of ``module`` from the sandbox's read-only copy (what was imported), a
    notebook's as the student wrote it (its imports as statements, which the source rules
    follow to the names they bind)."""
    path = submission.modules.get(module)
    if path is None:
        return None
    return ipynb.as_written((root / path.relative_to(submission.root)).read_text(
        encoding="utf-8", errors="replace"))


@functools.cache
def versions() -> dict[str, str]:
    """Versions recorded with every result (read from package metadata: importing torch costs 0.5 GB)."""
    found = {"harness": grader.__version__, "python": platform.python_version(),
             "numpy": np.__version__}
    for package in ("torch", "scipy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return dict(found)


def _device(checks: list[CheckResult]) -> str:
    """The device the checks report they ran on (training checks say), else ``cpu``."""
    return next((check.device for check in checks if check.device), "cpu")


def _run_check(item: PreparedCheck, rubric: Rubric, memo: CallMemo, limits: CallLimits,
               done: dict[str, CheckResult],
               observe: Callable[[str, int, CallOutcome], None] | None = None,
               cap: Callable[[float], float] = lambda seconds: seconds) -> CheckResult:
    check = item.check
    unmet = [r for r in check.requires if done.get(r) is None or done[r].status != Status.PASSED]
    reason = item.unavailable or (f"requires {', '.join(unmet)} to pass first" if unmet else None)
    if reason:
        # a check that cannot run on this machine (data missing) does not count towards
        # the total; one skipped because a prerequisite failed does
        max_score = 0.0 if item.unavailable else check.points
        return CheckResult(check.id, check.name, check.function, Status.SKIPPED, 0.0,
                           max_score, reason, visibility=check.visibility)
    kind = KINDS[check.kind]()
    through = memo.fresh() if kind.fresh_calls else memo
    reused, ran = memo.reused, memo.ran
    full = rubric.timeout_for(check)
    # timing and training checks keep their own budgets: no calibration, no probation
    result = kind.run(item, CheckContext(through, full, observe, cap,
                                         None if kind.fresh_calls else limits))
    return replace(result, kind=check.kind, limit_s=float(_shown_limit(item, kind, full, limits)),
                   calls_run=memo.ran - ran, calls_reused=(memo.reused - reused) or None)


def _shown_limit(item: PreparedCheck, kind: CheckKind, full: float, limits: CallLimits) -> float:
    """The limit the report shows beside a check's time: the longest its cases get from
    calibration (the rubric's where calibration does not apply); probation is said in the
    message of the case it timed out."""
    if kind.fresh_calls or not kind.calibrated or not item.cases:
        return full
    return max(calibrated(full, case.reference_s, limits.calibration).seconds
               for case in item.cases)


def _limits(rubric: Rubric, prepared: list[PreparedCheck]) -> Limits:
    checks = [p.check for p in prepared]
    memory = max((rubric.memory_for(c) for c in checks), default=rubric.defaults.memory_mb)
    cpu = rubric.defaults.import_timeout_s + sum(
        rubric.timeout_for(p.check) * max(1, len(p.cases)) for p in prepared)
    on_gpu = [c for c in checks if c.device != "cpu"]
    gpu = bool(on_gpu)  # the sandbox sees the machine's GPUs only then
    if gpu:  # checks that may use a device train with several CPU threads, all counted
        cpu *= os.cpu_count() or 1
    gpu_memory = max((rubric.gpu_memory_for(c) for c in on_gpu), default=None)
    return Limits(memory_mb=memory, cpu_s=int(cpu) + 10, address_space_limit=not gpu, gpu=gpu,
                  gpu_memory_mb=gpu_memory)


def _apply_source_rules(results: list[CheckResult], sources: dict[str, str | None],
                        rubric: Rubric) -> list[CheckResult]:
    by_target = {c.id: c.module for c in rubric.checks}
    penalised = []
    for result in results:
        module = by_target[result.id]
        source = sources.get(module)
        rules = [r for r in rubric.forbidden_calls if r.function == result.target]
        if rules and source is not None:
            result = _scanned(result, module, source, rules)
        penalised.append(result)
    return penalised


def _scanned(result: CheckResult, module: str, source: str,
             rules: list[ForbiddenCalls]) -> CheckResult:
    """``result`` after the course's forbidden-call ``rules`` for its function, found in
    ``source`` (the text of ``module``); a source the scan cannot read is said to be unread
    where the result has points to lose."""
    problem = source_rules.unreadable(source)
    if problem:
        return _unscanned(result, module, problem) if result.score > 0 else result
    for rule in rules:
        sites = _unique(source_rules.forbidden_calls(source, rule.function, rule.calls))
        if sites:
            result = _penalise(result, rule.function, sites, rule.penalty, rule.reason)
    return result


def _unscanned(result: CheckResult, module: str, problem: str) -> CheckResult:
    """``result``, saying that the forbidden-call scan could not read ``module`` (why:
    ``problem``), so its points stand unchecked."""
    note = (f"the scan for calls the course forbids could not read {module}.py ({problem}); "
            f"a TA should check {result.target} by hand")
    return replace(result, message=f"{result.message}; {note}",
                   details={**result.details, "source_scan": f"{module}.py: {problem}"})


def _penalise(result: CheckResult, function: str, sites, penalty: float, reason: str) -> CheckResult:
    listed = ", ".join(f"{s.name} (line {s.line})" for s in sites)
    why = f" ({reason})" if reason else ""
    note = f"{function} uses {listed}, which the course forbids{why}: −{penalty:.0%} of these points"
    status = Status.FAILED if penalty >= 1.0 and result.status == Status.PASSED else result.status
    details = {**result.details, "forbidden_calls": [{"name": s.name, "line": s.line} for s in sites]}
    return replace(result, score=round(result.score * (1 - penalty), 6), status=status,
                   message=f"{result.message}; {note}", details=details)


def _compat_notes(sources: dict[str, str | None], rubric: Rubric) -> list[str]:
    notes = []
    for module, source in sources.items():
        sites = _unique(source_rules.removed_numpy_aliases(source or ""))
        if sites:
            names = ", ".join(f"np.{s.name.split('.', 1)[1]} (line {s.line})" for s in sites)
            fix = ("restored by the rubric's compatibility option, graded on its merits"
                   if rubric.compat.numpy_aliases else "these raise AttributeError on numpy 2")
            notes.append(f"{module}.py uses names removed in numpy 2: {names}; {fix}")
    return notes


def _unique(sites):
    return list({(s.name, s.line): s for s in sites}.values())

