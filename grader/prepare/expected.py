"""Materialise a rubric's cases: inputs from the generators, expected outputs from the reference.

This is the only place the grader calls :mod:`reference` (trusted side). The
result is *data* — :class:`PreparedCheck` objects of plain arrays and
scalars — cached on disk under a hash of (rubric, reference source, input
bytes), so a batch computes each expected output once and a student kit can
ship the visible part of it without the answer key. Each case also records how long the
reference took to compute it (``reference_s``), sealed with it: calibrated time limits
(:mod:`grader.sandbox.call_limits`) follow it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import io
import json
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from grader import datapath, inputs
from grader.prepare import sealed
from grader.prepare.array_refs import ArrayRefs, decode
from grader.checks import KINDS
from grader.datapath import CourseDataMissing
from grader.prepare.prepared import PreparedCase, PreparedCheck, Value
from grader.rubric.load import Check, Rubric

def prepare(rubric: Rubric, rubric_hash: str, visible_only: bool = False) -> list[PreparedCheck]:
    """Prepare every check (or only the visible ones) of ``rubric``."""
    checks = [c for c in rubric.checks if c.visibility == "visible" or not visible_only]
    return [_prepare_check(rubric, rubric_hash, check) for check in checks]


def _prepare_check(rubric: Rubric, rubric_hash: str, check: Check) -> PreparedCheck:
    uses_course_data = any(inputs.reads_course_data(spec)
                           for case in check.cases for spec in case.args.values())
    try:
        arguments = [{name: inputs.generate(spec) for name, spec in case.args.items()}
                     for case in check.cases]
    except CourseDataMissing as exc:
        return PreparedCheck(check, [], unavailable=str(exc), uses_course_data=True)
    module, function = _resolve(rubric.reference_for(check), rubric.folder)
    key = _cache_key(rubric_hash, check, module, arguments)
    cached = _load_expected(key)
    if cached is None:
        cached = [_expected_for(module, function, check, case_args) for case_args in arguments]
        _store_expected(key, cached)
    cases = []
    for index, (case, case_args, (expected, diagnoses, seconds)) in enumerate(
            zip(check.cases, arguments, cached)):
        names = list(case_args)
        cases.append(PreparedCase(
            id=case.id or f"case{index + 1}", description=inputs.describe(case.args),
            arg_names=names, args=[case_args[n] for n in names],
            expected=expected, diagnoses=diagnoses, reference_s=seconds,
        ))
    return PreparedCheck(check, cases, uses_course_data=uses_course_data)


def _resolve(target: str, folder: Path | None):
    """The reference module and function of ``module:function``: the module file beside the
    rubric when an assignment folder has one (its own answer key), else an importable module
    (the course's ``reference`` package)."""
    module_name, function_name = target.split(":")
    beside = folder / f"{module_name}.py" if folder is not None and "." not in module_name else None
    if beside is not None and beside.is_file():
        return _module_from_file(beside), function_name
    return importlib.import_module(module_name), function_name


def _module_from_file(path: Path) -> ModuleType:
    """Import ``path`` under a name of its own (``grader_assignment_<hash>.<stem>``), so two
    assignments' ``reference.py`` never meet in :data:`sys.modules`."""
    name = f"grader_assignment_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}_{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


_RETIMED, _RETIME_UNDER_S = 2, 0.5  # a calibrated kind's call under 0.5 s runs twice more


def _expected_for(module, function: str, check: Check, case_args: dict[str, Value]):
    """``(expected, diagnoses, seconds)`` of one case: the reference's outputs, those of the
    rubric's classic mistakes, and the wall-clock seconds the expected outputs took here (for
    a calibrated kind, the fastest of three runs of a call under half a second: its first run
    warms caches up)."""
    kind = KINDS[check.kind]

    def run(args: dict[str, Value]) -> list[Value]:
        return kind.expected_outputs(module, function, check, [_copy(v) for v in args.values()])

    started = time.perf_counter()
    expected = run(case_args)
    seconds = time.perf_counter() - started
    for _ in range(_RETIMED if kind.calibrated else 0):  # a short call's first run pays
        if seconds >= _RETIME_UNDER_S:  # for warming up: the fastest of three
            break
        started = time.perf_counter()
        run(case_args)
        seconds = min(seconds, time.perf_counter() - started)
    diagnoses = []
    for diagnosis in check.diagnoses:
        transformed = dict(case_args)
        transformed[diagnosis.argument] = inputs.TRANSFORMS[diagnosis.transform](
            case_args[diagnosis.argument])
        diagnoses.append((diagnosis.message, run(transformed)))
    return expected, diagnoses, seconds


def _copy(value: Value) -> Value:
    return value.copy() if isinstance(value, np.ndarray) else value


def _cache_key(rubric_hash: str, check: Check, module, arguments: list[dict]) -> str:
    digest = hashlib.sha256()
    digest.update(rubric_hash.encode())
    digest.update(check.model_dump_json().encode())
    digest.update(inspect.getsource(module).encode())
    for case_args in arguments:
        for name, value in case_args.items():
            digest.update(name.encode())
            digest.update(np.asarray(value).tobytes() if isinstance(value, np.ndarray)
                          else repr(value).encode())
    return digest.hexdigest()[:24]


def _store_expected(key: str, cached: list) -> None:
    """Write ``[(expected, diagnoses, reference seconds), ...]`` as sealed JSON + ``.npz``
    (no pickle)."""
    refs = ArrayRefs()
    manifest = [{"expected": [refs.encode(v) for v in expected],
                 "diagnoses": [[msg, [refs.encode(v) for v in values]] for msg, values in diagnoses],
                 "reference_s": seconds}
                for expected, diagnoses, seconds in cached]
    arrays = io.BytesIO()
    np.savez(arrays, allow_pickle=False, **refs.named)
    try:
        folder = datapath.cache_dir()
        sealed.write(folder / f"{key}.npz", arrays.getvalue())
        sealed.write(folder / f"{key}.json", json.dumps(manifest).encode())
    except OSError:
        pass  # a read-only cache only costs recomputation


def _load_expected(key: str):
    """The cached expected outputs of ``key``; ``None`` when absent, not sealed by this grader,
    or written before the reference was timed (then recomputed once, and rewritten)."""
    folder = datapath.cache_dir()
    manifest_bytes, array_bytes = sealed.read(folder / f"{key}.json"), sealed.read(folder / f"{key}.npz")
    if manifest_bytes is None or array_bytes is None:
        return None
    try:
        manifest = json.loads(manifest_bytes)
        with np.load(io.BytesIO(array_bytes), allow_pickle=False) as bundle:
            arrays = {name: bundle[name] for name in bundle.files}
    except ValueError:
        return None
    if not all(isinstance(case.get("reference_s"), (int, float)) for case in manifest):
        return None
    return [([decode(v, arrays) for v in case["expected"]],
             [(msg, [decode(v, arrays) for v in values]) for msg, values in case["diagnoses"]],
             float(case["reference_s"]))
            for case in manifest]
