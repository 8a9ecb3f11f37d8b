"""Measure the reference's own training on this machine's GPU: the yardstick of GPU budgets.

A ``training`` check whose ``time_budget_s`` sets ``cuda_scale`` gives a student on a GPU
that multiple of the reference solution's own training time on the same GPU model
(:mod:`grader.checks.training`). This module measures that time: it grades the reference's
module as if a student had handed it in (a copy in a folder of its own, beside the rubric's
provided files), in the sandbox, with the same rubric, limits and isolation a student gets,
on the GPU a student's sandbox would get, and with a budget that lets it train its own
``n_epochs`` (when the check's timeout cuts it short, its time per epoch is extrapolated);
then records the seconds under the GPU's name (:mod:`grader.checks._reference_times`).

This is trusted code that reads the answer key, on the grading side only: run it once per
machine and GPU model, and again after the reference changes (``benchmarks/gpu_check.py``
does). Without a GPU the reference trains on the CPU and nothing is recorded: CPU budgets are
CPU-seconds and scale by nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from grader import grading
from grader.checks import _reference_times
from grader.checks.training import TrainingCheck, reference_key
from grader.intake import submission
from grader.prepare.prepared import PreparedCheck
from grader.results import CheckResult
from grader.rubric.load import Rubric
from grader.stamps import now

UNBOUNDED_S = 1e6  # the reference's budget: lowered to the usable part of the check's timeout


@dataclass(frozen=True)
class Measurement:
    """The reference's training on one case of one check, and whether it was recorded."""

    check_id: str
    case_id: str
    device: str  # "cuda (NVIDIA H100 …)" or "cpu"
    device_name: str
    seconds: float | None  # its whole run (its own n_epochs), None if it did not train
    recorded: bool
    note: str


def measure(rubric: Rubric, rubric_hash: str, prepared: list[PreparedCheck],
            record: bool = True) -> list[Measurement]:
    """Train the reference on every case of ``prepared``'s training checks that may run on a
    GPU, and (with ``record``) keep each time measured on a GPU."""
    found = []
    for item in prepared:
        if item.check.kind != TrainingCheck.name or item.check.device == "cpu" or item.unavailable:
            continue
        source = reference_source(rubric, item)
        for case in item.cases:
            result = _graded(rubric, rubric_hash, item, case, source)
            found.append(_measured(item, case.id, result, source, record))
    return found


def reference_source(rubric: Rubric, item: PreparedCheck) -> str:
    """The text of the reference module that answers ``item``'s student module: the module
    file beside the rubric when its assignment folder has one, else the importable module
    (found, not imported)."""
    module = rubric.reference_for(item.check).split(":")[0]
    beside = rubric.folder / f"{module}.py" if rubric.folder is not None and "." not in module \
        else None
    if beside is not None and beside.is_file():
        return beside.read_text(encoding="utf-8")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the reference module {module} is not installed here")
    return Path(spec.origin).read_text(encoding="utf-8")


def _graded(rubric: Rubric, rubric_hash: str, item: PreparedCheck, case, source: str) -> CheckResult:
    """``item`` on ``case`` alone, graded with the reference as the student's module and a
    budget that does not stop it before its own epochs."""
    options = dict(item.check.options)
    options["time_budget_s"] = {"cpu": UNBOUNDED_S, "cuda": UNBOUNDED_S}
    check = item.check.model_copy(update={"options": options})
    with tempfile.TemporaryDirectory(prefix="grader-reference-") as folder:
        (Path(folder) / f"{item.check.module}.py").write_text(source, encoding="utf-8")
        with submission.load(Path(folder), rubric.modules, student="reference",
                             provided=rubric.provided_files) as loaded:
            (result,) = grading.grade(loaded, rubric, rubric_hash,
                                      [PreparedCheck(check, [case])]).checks
    return result


def _measured(item: PreparedCheck, case_id: str, result: CheckResult, source: str,
              record: bool) -> Measurement:
    details = result.details
    device, name = str(details.get("device", "unknown")), str(details.get("device_name") or "")
    seconds, epochs = details.get("train_seconds"), details.get("epochs_completed")
    n_epochs = details.get("n_epochs")
    if not isinstance(seconds, (int, float)) or not epochs:
        return Measurement(item.check.id, case_id, device, name, None, False,
                           f"the reference did not train: {result.status.value}: {result.message}")
    whole = float(seconds)
    if details.get("stopped_by") == "budget" and isinstance(n_epochs, (int, float)):
        whole = seconds / float(epochs) * n_epochs  # cut short by the check's timeout
    if not device.startswith("cuda"):
        return Measurement(item.check.id, case_id, device, name, round(whole, 3), False,
                           "no GPU in the sandbox: nothing recorded (CPU budgets are "
                           "CPU-seconds, not scaled)")
    if record:
        case = next(c for c in item.cases if c.id == case_id)
        _reference_times.record(reference_key(item.check, case), name, _reference_times.Measured(
            seconds=round(whole, 3), epochs=float(epochs), measured_at=now(),
            torch=_torch_version(), reference_digest=hashlib.sha256(source.encode()).hexdigest()[:16]))
    return Measurement(item.check.id, case_id, device, name, round(whole, 3), record,
                       f"{epochs} epochs in {seconds} s ({details.get('stopped_by')})")


def _torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return ""
