"""Grade the mutants and the correct variants through the normal sandboxed path, in parallel.

Each mutant is a submission folder (the reference modules, one of them
mutated) graded by :func:`grader.grading.grade` inside the executors of
:mod:`grader.batch.executors`, which hands every case's outcome to an
:class:`OutputRecorder` as it comes back. When a mutant keeps full marks,
everything it returned is compared with the reference's (no second run:
a training check is not trained twice). Equal outputs (exactly, or up to float rounding: a different but
exact summation order) mean an *equivalent-looking* survivor: no case of
the rubric can tell it from the reference, so it is left out of the score.

Speed: a mutant's checks run cheapest first (by the reference's time on
each, every check after those it ``requires``) and its grading stops at the
first check that costs it a point, since one lost point kills it; most
mutants die in the fast property checks and never reach the slow pipeline
ones. Variants are graded in full, like any student.

Time limits: a mutant can loop for as long as the rubric allows, so mutants
(not variants) run with every check's ``timeout_s`` capped at
``check_timeout_s`` (a copy of the rubric, never the file).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from grader import grading, workdirs
from grader.rubric import assignments
from grader.intake import submission
from grader.audit import mutate, targets, wrong
from grader.audit.report import AuditReport, MutantOutcome, VariantOutcome
from grader.checks import KINDS
from grader.datapath import course_data_dir
from grader.errors import GraderError
from grader.batch.executors import Task, make_executor, same_rubric, task_context
from grader.prepare.expected import prepare
from grader.results import Status
from grader.rubric.load import Rubric, load_rubric
from grader.sandbox.launcher import threads_per_worker
from grader.intake.submission import Submission

DEFAULT_CHECK_TIMEOUT_S = 20.0


@dataclass
class AuditOptions:
    """How to run an audit (the ``grader audit`` flags)."""

    workers: int = 1
    cluster: str | None = None
    max_mutants: int | None = None  # None: the assignment's default in grader/audit/targets.py
    all_mutants: bool = False
    seed: int = 0
    check_timeout_s: float | None = None  # None: the assignment's (targets.py), else 20 s
    variants: bool = True
    wrong_programs: bool = True  # grade the assignment's wrong_programs.yaml (grader/audit/wrong.py)
    mutants: bool = True
    rubric_file: Path | None = None  # another rubric for the same assignment (tests)
    progress: Callable[[int, int], None] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AuditTask(Task):
    """A grading task with the audit's extras: a time cap and whether to record outputs."""

    check_timeout_s: float | None = None
    record_outputs: bool = False
    check_order: tuple[str, ...] = ()  # run the checks in this order (ids; others after)
    left_out: tuple[str, ...] = ()  # checks the audit does not run (targets.py says why)
    stop_at_first_loss: bool = False


@dataclass(frozen=True)
class Generated:
    """The mutants an audit grades: those it scores and the free ones, and how many of each exist."""

    scored: list[mutate.Mutant]
    free: list[mutate.Mutant]
    scored_total: int
    free_total: int


def generate(assignment: str, max_mutants: int | None = None, seed: int = 0,
             all_mutants: bool = False) -> Generated:
    """All mutants of ``assignment``'s reference, or a seeded sample.

    A sample (``max_mutants``, or the assignment's default) takes that many of
    the scored mutants and one free mutant per free line; ``all_mutants``
    grades everything.
    """
    target = targets.target_for(assignment)
    found: list[mutate.Mutant] = []
    for module, stem in target.modules.items():
        found += mutate.mutants_of(target.source(stem), module,
                                   targets.graded_functions(target, module), target.provided)
    limit = None if all_mutants else (max_mutants or target.max_mutants)
    scored, free = [m for m in found if not m.free], [m for m in found if m.free]
    return Generated(mutate.sample(scored, limit, seed),
                     free if limit is None else mutate.one_per_line(free, seed),
                     len(scored), len(free))


def run_audit(assignment: str, options: AuditOptions) -> AuditReport:
    """Generate, grade and classify the mutants of ``assignment``; grade its variants."""
    started = time.perf_counter()
    rubric_file = (options.rubric_file or assignments.rubric_path(assignment)).resolve()
    target = targets.target_for(assignment)
    rubric, rubric_hash = load_rubric(rubric_file)
    prepare(rubric, rubric_hash)  # fill the expected-output cache before any worker reads it
    generated = generate(assignment, options.max_mutants, options.seed, options.all_mutants) \
        if options.mutants else Generated([], [], 0, 0)
    mutants, free = generated.scored, generated.free
    programs = wrong.load(rubric.folder, rubric) if options.wrong_programs else []
    references = {m: target.source(s) for m, s in target.modules.items()}
    check_timeout_s = options.check_timeout_s or target.check_timeout_s or DEFAULT_CHECK_TIMEOUT_S
    options = replace(options, check_timeout_s=check_timeout_s)
    root = workdirs.make("grader-submission-")
    try:
        common = dict(rubric_file=str(rubric_file), rubric_hash=rubric_hash,
                      needs_gpu=any(c.device == "cuda" for c in rubric.checks),
                      data_dir=str(course_data_dir()) if course_data_dir() else None,
                      threads=threads_per_worker(options.workers), left_out=tuple(target.left_out))
        reference = grade_mutant(_task("reference", root / "reference", references, common,
                                       options.check_timeout_s))
        if reference["score"] < reference["max_score"] - 1e-9:
            lost = [c["id"] for c in reference["checks"] if c["score"] < c["max_score"]]
            raise GraderError(f"the reference loses points on its own rubric ({', '.join(lost)}): "
                              "fix the rubric or the reference before auditing")
        order = cheapest_first(reference["checks"], rubric)
        everything = mutants + free
        tasks = (replace(_task(m.id, root / m.id, {**references, m.module: m.source}, common,
                               options.check_timeout_s), check_order=order, stop_at_first_loss=True,
                         record_outputs=not m.free)
                 for m in everything)
        graded = _stream(tasks, len(everything), options)
        outcomes = [_classify(m, graded[m.id], Path(reference["outputs"])) for m in everything]
        variants = _grade_variants(assignment, rubric, common, options) if options.variants else []
        caught = _grade_wrong(programs, references, root, common, options)
    finally:
        workdirs.remove(root)
    return AuditReport(
        assignment=rubric.assignment, rubric_hash=rubric_hash, generated=generated.scored_total,
        free_generated=generated.free_total, seed=options.seed,
        sampled=len(mutants) < generated.scored_total or len(free) < generated.free_total,
        check_timeout_s=check_timeout_s,
        outcomes=outcomes, variants=variants, wrong=caught, runtime_s=time.perf_counter() - started,
        workers=options.workers, reference_modules=dict(target.modules), left_out=dict(target.left_out),
    )


def grade_mutant(task: AuditTask) -> dict[str, Any]:
    """Grade one folder (in whatever process runs it); record its outputs if it kept full marks."""
    with task_context(task):
        rubric, rubric_hash, prepared = _prepared(task.rubric_file, task.check_timeout_s,
                                                  task.left_out)
        same_rubric(task, rubric_hash)
        if task.check_order:
            rank = {check_id: number for number, check_id in enumerate(task.check_order)}
            prepared = sorted(prepared, key=lambda p: rank.get(p.check.id, len(rank)))
        recorder = OutputRecorder(rubric) if task.record_outputs else None
        result = grading.grade(task.submission, rubric, rubric_hash, prepared,
                               stop_at_first_loss=task.stop_at_first_loss, observe=recorder)
    summary: dict[str, Any] = {
        "score": result.score, "max_score": result.max_score, "outputs": None,
        "checks": [{"id": c.id, "status": c.status.value, "score": c.score, "max_score": c.max_score,
                    "target": c.target, "duration_s": c.duration_s} for c in result.checks],
    }
    if recorder and result.score >= result.max_score - 1e-9:
        path = Path(task.root).with_suffix(".outputs.npz")
        recorder.save(path)
        summary["outputs"] = str(path)
    return summary


class OutputRecorder:
    """Keeps every value a submission returns, case by case, as grading calls it.

    Passed to :func:`grading.grade` as ``observe``; :meth:`save` writes them
    from the trusted side as ``.npz`` (no pickle): one entry per output, keyed
    ``check/case/index``, plus each call's status. Only the outputs the check's
    kind calls reproducible are kept (a training run's timings are not).
    """

    def __init__(self, rubric: Rubric):
        self.kinds = {check.id: KINDS[check.kind]() for check in rubric.checks}
        self.arrays: dict[str, np.ndarray] = {}

    def __call__(self, check_id: str, number: int, outcome) -> None:
        key = f"{check_id}/{number}"
        self.arrays[f"{key}/status"] = np.array(f"{outcome.status} {outcome.error}")
        for index, value in enumerate(self.kinds[check_id].reproducible_outputs(outcome.outputs)):
            self.arrays[f"{key}/{index}"] = _as_array(value)

    def save(self, path: Path) -> None:
        np.savez(path, allow_pickle=False, **self.arrays)


def cheapest_first(checks: list[dict], rubric: Rubric) -> tuple[str, ...]:
    """Check ids by the time the reference took on each, every check after those it requires."""
    seconds = {c["id"]: c["duration_s"] for c in checks}
    requires = {c.id: set(c.requires) for c in rubric.checks}
    pending = sorted(requires, key=lambda i: seconds.get(i, float("inf")))
    order: list[str] = []
    while pending:
        ready = next((i for i in pending if requires[i] <= set(order)), pending[0])
        order.append(ready)
        pending.remove(ready)
    return tuple(order)


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.asarray(value)
    return np.array(json.dumps(value, sort_keys=True, default=repr))


def compare_outputs(mutant: Path, reference: Path) -> tuple[bool, str]:
    """Whether two recorded output sets agree: exactly, or only up to floating-point rounding.

    Returns ``(equal, how)``: ``how`` is ``"identical"`` or ``"identical up to
    float rounding"``; for unequal sets it names the first difference.
    Rounding means same dtype and shape, and every value within 64 ulps of
    the array's dtype (relative to the largest magnitude of the reference array);
    equal numbers of another numeric type (``55.0`` for ``55``) count as equal,
    as every check compares them.
    """
    with np.load(mutant, allow_pickle=False) as a, np.load(reference, allow_pickle=False) as b:
        if sorted(a.files) != sorted(b.files):
            return False, "different calls or numbers of returned values"
        rounding = False
        for key in sorted(b.files):
            x, y = a[key], b[key]
            if x.shape == y.shape and x.dtype != y.dtype and _same_numbers(x, y):
                continue
            if x.dtype != y.dtype or x.shape != y.shape:
                return False, f"{key}: dtype/shape {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
            if np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"):
                continue
            if x.dtype.kind not in "fc":
                return False, f"{key}: values differ"
            eps = np.finfo(x.dtype).eps * 64
            scale = float(np.nanmax(np.abs(y))) if y.size else 0.0
            if not np.allclose(x, y, rtol=eps, atol=eps * scale, equal_nan=True):
                return False, f"{key}: values differ beyond float rounding"
            rounding = True
    return True, "identical up to float rounding" if rounding else "identical"


def _same_numbers(x: np.ndarray, y: np.ndarray) -> bool:
    """Both real-numeric and equal as float64 (an int result returned as a float, or back)."""
    return x.dtype.kind in "biuf" and y.dtype.kind in "biuf" and np.array_equal(
        x.astype(np.float64), y.astype(np.float64))


@functools.lru_cache(maxsize=4)
def _prepared(rubric_file: str, check_timeout_s: float | None, left_out: tuple[str, ...] = ()):
    """Rubric and prepared cases, once per process, without ``left_out`` and with time limits capped."""
    rubric, rubric_hash = load_rubric(Path(rubric_file))
    prepared = [p for p in prepare(rubric, rubric_hash) if p.check.id not in left_out]
    kept = [c for c in rubric.checks if c.id not in left_out]
    if check_timeout_s is not None:
        kept = [c.model_copy(update={"timeout_s": min(rubric.timeout_for(c), check_timeout_s)})
                for c in kept]
    by_id = {c.id: c for c in kept}
    rubric = rubric.model_copy(update={"checks": kept})
    return rubric, rubric_hash, [replace(p, check=by_id[p.check.id]) for p in prepared]


def _task(name: str, folder: Path, sources: dict[str, str], common: dict,
          check_timeout_s: float | None) -> AuditTask:
    targets.write_submission(folder, sources)
    content = hashlib.sha256("".join(sources[m] for m in sorted(sources)).encode()).hexdigest()[:16]
    written = Submission(student=name, root=folder, content_hash=content, module_dir=".",
                         modules={m: folder / f"{m}.py" for m in sources}, missing=[])
    return AuditTask(submission=written, check_timeout_s=check_timeout_s, record_outputs=True,
                     **common)


def _stream(tasks: Iterable[AuditTask], total: int, options: AuditOptions) -> dict[str, Any]:
    executor = make_executor(min(options.workers, max(total, 1)), options.cluster)
    graded: dict[str, Any] = {}
    try:
        for task, outcome in executor.stream(tasks, grade_mutant):
            graded[task.student] = outcome
            if options.progress:
                options.progress(len(graded), total)
    finally:
        executor.close()
    return graded


def _classify(mutant: mutate.Mutant, outcome: dict | BaseException, reference: Path) -> MutantOutcome:
    base = _where(mutant)
    if isinstance(outcome, BaseException):
        return MutantOutcome(**base, status="error", score=0.0, max_score=0.0,
                             detail=f"{type(outcome).__name__}: {outcome}")
    base["check_seconds"] = {c["id"]: round(c["duration_s"] or 0.0, 3) for c in outcome["checks"]}
    lost = [c for c in outcome["checks"] if c["score"] < c["max_score"] - 1e-9]
    how = ""
    if mutant.free:  # a correct program written differently: it should keep full marks
        lost_ids = ", ".join(c["id"] for c in lost)
        return MutantOutcome(**base, status="free_lost" if lost else "free", score=outcome["score"],
                             max_score=outcome["max_score"], free=mutant.free,
                             detail=f"a free choice that lost points in {lost_ids}" if lost
                             else "a free choice, full marks")
    if lost:
        status = "timeout" if any(c["status"] == Status.TIMEOUT.value for c in lost) else "killed"
        detail = ", ".join(c["id"] for c in lost)
    else:
        equal, how = compare_outputs(Path(outcome["outputs"]), reference)
        status = "equivalent" if equal else "survived"
        detail = (f"outputs {how} to the reference's on every case" if equal
                  else f"full marks, but outputs differ from the reference's ({how})")
    return MutantOutcome(**base, status=status, score=outcome["score"],
                         max_score=outcome["max_score"], detail=detail,
                         rounding=status == "equivalent" and "rounding" in how)


def _grade_wrong(programs: list[wrong.WrongProgram], references: dict[str, str], root: Path,
                 common: dict, options: AuditOptions) -> list[wrong.WrongOutcome]:
    """Grade each wrong program in full (time limits capped as a mutant's); what each kept."""
    if not programs:
        return []
    tasks = [replace(_task(f"wrong-{p.name}", root / f"wrong-{p.name}",
                           {**references, p.module: wrong.patched(references[p.module], p)},
                           common, options.check_timeout_s), record_outputs=False)
             for p in programs]
    graded = _stream(tasks, len(tasks), replace(options, progress=None))
    return [wrong.outcome(p, graded[f"wrong-{p.name}"]) for p in programs]


def _where(mutant: mutate.Mutant) -> dict[str, Any]:
    """The fields that say which mutant it is and what it changed."""
    return dict(id=mutant.id, module=mutant.module, function=mutant.function, operator=mutant.operator,
                line=mutant.line, description=mutant.description, diff=mutant.diff())


def _grade_variants(assignment: str, rubric: Rubric, common: dict,
                    options: AuditOptions) -> list[VariantOutcome]:
    """Grade each correct variant exactly as a student submission, with the rubric's own limits."""
    opened, tasks = {}, []
    try:
        for path in targets.variant_folders(assignment):
            loaded = submission.load(path, rubric.modules, student=path.name,
                                     provided=rubric.provided_files)
            opened[path.name] = loaded
            tasks.append(AuditTask(submission=loaded, **common))
        if not tasks:
            return []
        graded = _stream(tasks, len(tasks), replace(options, progress=None))
    finally:
        for loaded in opened.values():
            loaded.cleanup()
    outcomes = []
    for task in tasks:
        outcome = graded[task.student]
        if isinstance(outcome, BaseException):
            outcomes.append(VariantOutcome(task.student, 0.0, 0.0, [f"grading crashed: {outcome}"]))
            continue
        lost = [f"{c['id']} ({c['status']}, {c['score']:g}/{c['max_score']:g})"
                for c in outcome["checks"] if c["score"] < c["max_score"] - 1e-9]
        outcomes.append(VariantOutcome(task.student, outcome["score"], outcome["max_score"], lost))
    return outcomes
