"""``training``: train the student's CNN in the sandbox under a time budget; score test accuracy.

One sandbox request runs the driver ``drivers.cnn_training.train_and_predict``
(see ``grader/worker/drivers/``): it imports the student's module,
builds ``SimpleNet(num_classes)``, takes the settings of
``custom_part1_trainer(model)`` (``None`` → course defaults), trains on the
training split it is sent until ``n_epochs`` or the time budget of the device
it runs on, and returns its **predictions** for the test images. The test
labels stay here: this trusted parent computes the accuracy and maps it to
points through ``options.curve``.

Cases name ``train_images``, ``train_labels``, ``test_images`` (sent) and
``test_labels`` (never sent). Options::

    curve: [[0.2, 0], [0.75, 1]]        # accuracy → fraction of the points (required)
    time_budget_s: {cpu: 300, cuda: 60}  # CPU-seconds (all threads) / GPU seconds of training (required)
                                         # cuda_scale: 2 in it: on a GPU, 2 × the reference's own time
    model: SimpleNet                     # class (or function) called as model(num_classes, **model_kwargs)
    trainer: custom_part1_trainer        # or null for the course defaults
    model_kwargs: {}
    seed: 0
    flip: false                          # random left-right flips of training images
    max_threads: 16                      # CPU threads at most

The check's ``device`` (``cpu``/``cuda``/``any``) says whether a GPU may be
used; the driver picks ``cuda`` only when allowed and present. The rubric's
``timeout_s`` bounds the whole request (import, conversion, training,
prediction): budgets that would not leave a quarter of it free are lowered,
with a note.

With ``time_budget_s.cuda_scale``, the GPU budget is that multiple of the reference's own
training time measured on the same GPU model on this machine (``benchmarks/gpu_check.py``
measures it with ``grader/reference_gpu.py`` and records it in the grader's state folder):
every GPU buys the student the same share of the reference's training. On a GPU model without a
measurement the budget is ``cuda`` seconds, with a note. The result records the device and
its name, the budget and where it came from, and the sandbox's GPU memory cap.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, field_validator

from grader.checks.base import CheckProblem, Verdict, missing_arguments
from grader.checks import _reference_times
from grader.checks._curve import CurveOptions, CurveScored, curve_fraction
from grader.checks._options import KindOptions
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.results import CheckResult
from grader.rubric.model import Check
from grader.sandbox import CallOutcome
from grader.sandbox.mounts import gpu_devices
from grader.sandbox.session import Step
from grader.checks import KINDS

SENT = ("train_images", "train_labels", "test_images")
LABELS = "test_labels"
DRIVER = "drivers.cnn_training"
DEVICES = ("cpu", "cuda")
_FREE_FRACTION = 0.25  # of timeout_s, kept for import, conversion and prediction
_CPU_SLACK_S, _CPU_SLACK_FRACTION = 15.0, 0.25  # CPU beyond the budget before the grader stops it
_MAX_LOSSES = 200


class TimeBudget(KindOptions):
    """How long the student's training may run, per device it may run on."""

    cpu: float = Field(gt=0)
    """CPU-seconds of training on the CPU, all threads together"""
    cuda: float = Field(gt=0)
    """seconds of training on a GPU (wall clock); with ``cuda_scale``, on a GPU model the
    reference's training was not measured on"""
    cuda_scale: float | None = Field(None, gt=0)
    """on a GPU, this multiple of the reference's own training time measured on the same
    GPU model (``benchmarks/gpu_check.py`` measures it once per machine and GPU model)"""

    def on(self, device: str) -> float:
        """The budget of ``device`` (``cpu`` or ``cuda``) in seconds; 0 for any other name."""
        return {"cpu": self.cpu, "cuda": self.cuda}.get(device, 0.0)


class TrainingOptions(CurveOptions):
    """The options of a ``training`` check: its ``curve`` maps the test accuracy (0 to 1) to
    credit."""

    time_budget_s: TimeBudget = Field(examples=[{"cpu": 150, "cuda": 60}])
    """the training's time budget per device; lowered to fit three quarters of the check's
    ``timeout_s`` (the rest is kept for the import, conversion and prediction)"""
    model: str = "SimpleNet"
    """the class (or function) of the student's module that builds the network, called
    ``model(num_classes, **model_kwargs)``"""
    trainer: str | None = "custom_part1_trainer"
    """the student's function returning the training settings for the model; ``null``: the
    course's defaults"""
    model_kwargs: dict[str, Any] = {}
    """keyword arguments of ``model`` besides the number of classes"""
    seed: int = 0
    """seed of the training's random numbers (initial weights, batches, flips)"""
    flip: bool = Field(False, strict=True)
    """flip training images left-right at random"""
    max_threads: int = 16
    """CPU threads the training may use at most"""

    @field_validator("time_budget_s", mode="wrap")
    @classmethod
    def _both_devices(cls, budget: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(budget)
        except ValidationError:
            raise ValueError("time_budget_s must give positive seconds for both devices, e.g. "
                             "{cpu: 150, cuda: 60}") from None


@KINDS.register
class TrainingCheck(CurveScored):
    name = "training"
    options_model = TrainingOptions

    def __init__(self) -> None:
        super().__init__()
        self._reference_seconds: dict[str, dict[str, float]] = {}  # case id → its invoke's

    @classmethod
    def figures(cls, result: CheckResult, arrays: dict[str, Any]) -> list[Any]:
        """The confusion matrix of the test predictions, with each class's recall."""
        from grader.figures import confusion_table

        matrix = result.details.get("confusion_matrix")
        return [] if matrix is None else [confusion_table(matrix, result.details.get("class_names"))]
    fresh_calls = True  # stochastic, and its budget is the run's own

    @classmethod
    def reproducible_outputs(cls, outputs: list[Any]) -> list[Any]:
        """The predictions only: the losses and the run's log carry timings."""
        return outputs[:1]

    @classmethod
    def check_problem(cls, check: Check) -> CheckProblem | None:
        """Every case names the training set and the test set, its labels too."""
        return missing_arguments(check, SENT + (LABELS,))

    @classmethod
    def expected_outputs(cls, module: Any, function: str, check: Check, args: list[Any]) -> list[Any]:
        """Nothing to compute: the expected data is the ``test_labels`` input, kept here."""
        return []

    def invoke(self, case: PreparedCase, prepared: PreparedCheck, context) -> CallOutcome:
        missing = [n for n in SENT + (LABELS,) if n not in case.arg_names]
        if missing:
            return CallOutcome("protocol", error=f"rubric case lacks argument(s) {missing}")
        train_images, train_labels, test_images = (case.args[case.arg_names.index(n)] for n in SENT)
        reference = self._reference_seconds[case.id] = reference_seconds(prepared.check, case)
        config = self.driver_config(prepared.check, train_labels, context.timeout_s, reference)
        step = Step("train_and_predict", [prepared.check.module, json.dumps(config),
                                          train_images, train_labels, test_images], module=DRIVER)
        return context.session.run(DRIVER, [step], None, context.timeout_s,
                                   cpu_limit_s=cpu_limit(prepared.check, config))

    @staticmethod
    def driver_config(check: Check, train_labels: np.ndarray, timeout_s: float,
                      reference_s: dict[str, float] | None = None) -> dict[str, Any]:
        """The JSON the driver reads: options with defaults, device policy, usable budgets
        (``reference_s``: GPU name → the reference's training seconds measured on it, which
        ``cuda_scale`` turns into that GPU's budget)."""
        options = TrainingOptions.of(check)
        usable = timeout_s * (1 - _FREE_FRACTION)
        budgets = {d: min(options.time_budget_s.on(d), usable) for d in DEVICES}
        config = {"model": options.model, "trainer": options.trainer,
                  "num_classes": int(np.max(train_labels)) + 1,
                  "model_kwargs": options.model_kwargs, "device": check.device,
                  "time_budget_s": budgets, "seed": options.seed, "flip": options.flip,
                  "max_threads": options.max_threads}
        by_name = {name: round(min(seconds, usable), 3)
                   for name, seconds in scaled_budgets(options, reference_s or {}).items()}
        return config | ({"cuda_budget_by_name": by_name} if by_name else {})

    def judge(self, outputs: list[Any], case: PreparedCase, prepared: PreparedCheck,
              outcome: CallOutcome) -> Verdict:
        options = TrainingOptions.of(prepared.check)
        labels = np.asarray(case.args[case.arg_names.index(LABELS)])
        try:
            predictions, losses, info = _read(outputs, len(labels))
        except ValueError as exc:
            return Verdict(False, str(exc))
        accuracy = float(np.mean(predictions == labels))
        details = {"accuracy": round(accuracy, 4), "num_test": int(len(labels)),
                   "device": info.get("device", "unknown"),
                   "device_name": info.get("device_name"),
                   "epochs_completed": info.get("epochs_completed"),
                   "n_epochs": info.get("n_epochs"),
                   "train_seconds": info.get("train_seconds"), "stopped_by": info.get("stopped_by"),
                   "time_budget_s": info.get("time_budget_s"),
                   "budget_basis": info.get("budget_basis"),
                   "gpu_memory_cap_mb": info.get("gpu_memory_cap_mb"),
                   "threads": info.get("threads"),
                   "cpu_seconds_measured": outcome.cpu_s,
                   "epoch_losses": [round(float(x), 4) for x in losses[:_MAX_LOSSES]],
                   "confusion_matrix": confusion_matrix(labels, predictions).tolist()}
        notes = _notes(prepared.check, info, losses, self._reference_seconds.get(case.id, {}))
        summary = (f"test accuracy {accuracy:.1%} after {info.get('epochs_completed')} epochs "
                   f"({info.get('train_seconds')} s of training on {details['device']})")
        verdict = self.scored(curve_fraction(options.curve, accuracy), summary,
                              details | ({"notes": notes} if notes else {}),
                              metric=round(accuracy, 4), device=str(details["device"]))
        verdict.message = "; ".join([summary] + notes)
        return verdict


def reference_seconds(check: Check, case: PreparedCase) -> dict[str, float]:
    """GPU name → the reference's own training seconds measured on it for ``case``, where the
    check scales its GPU budget by them (``cuda_scale``) and may run on a GPU, on a machine
    that has one; else nothing (the record is never read)."""
    if check.device == "cpu" or TrainingOptions.of(check).time_budget_s.cuda_scale is None \
            or not gpu_devices():
        return {}
    return _reference_times.seconds_by_device(reference_key(check, case))


def reference_key(check: Check, case: PreparedCase) -> str:
    """The key the reference's time on ``case`` is recorded under (:mod:`._reference_times`)."""
    arrays = [(name, case.args[case.arg_names.index(name)]) for name in SENT[:2]]
    return _reference_times.case_key(check.target, check.options, arrays)


def scaled_budgets(options: TrainingOptions, reference_s: dict[str, float]) -> dict[str, float]:
    """GPU name → its budget: ``cuda_scale`` × the reference's seconds on it (none without
    ``cuda_scale``)."""
    scale = options.time_budget_s.cuda_scale
    if scale is None:
        return {}
    return {name: scale * seconds for name, seconds in reference_s.items() if seconds > 0}


def cpu_limit(check, config: dict[str, Any]) -> float | None:
    """The CPU-seconds the grader lets a CPU training request use, measured from outside.

    The driver stops at its budget by its own clock, but it runs in the student's interpreter,
    where ``time.process_time`` can be rebound: so the parent counts the tree's CPU time itself
    and ends the request at the budget plus room for the import, conversion and prediction.
    ``None`` where a GPU may train (its time is the request's wall clock).
    """
    if check.device != "cpu" and gpu_devices():
        return None
    budget = float(config["time_budget_s"]["cpu"])
    return budget + max(_CPU_SLACK_S, _CPU_SLACK_FRACTION * budget)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """``(C, C)`` counts: row = true class, column = predicted class (predictions out of range
    are not counted)."""
    classes = int(labels.max()) + 1 if labels.size else 0
    valid = (predictions >= 0) & (predictions < classes)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels[valid].astype(np.int64), predictions[valid].astype(np.int64)), 1)
    return matrix


def _read(outputs: list[Any], count: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Validate the driver's ``(predictions, epoch_losses, info)``; raise ValueError with a sentence."""
    if len(outputs) != 3:
        raise ValueError(f"the training driver returned {len(outputs)} values, expected 3")
    predictions, losses, info = outputs
    predictions = np.asarray(predictions) if isinstance(predictions, np.ndarray) else None
    if predictions is None or predictions.dtype.kind not in "iu" or predictions.shape != (count,):
        raise ValueError(f"predictions must be {count} integer class labels")
    try:
        info = json.loads(info)
    except (TypeError, ValueError):
        raise ValueError("the training driver's report could not be read") from None
    losses = np.asarray(losses, dtype=np.float64).ravel() if isinstance(losses, np.ndarray) else np.zeros(0)
    return predictions, losses, info if isinstance(info, dict) else {}


def _notes(check: Check, info: dict, losses: np.ndarray,
           reference_s: dict[str, float] | None = None) -> list[str]:
    """Hints for the message: where a GPU budget came from, a lowered budget, a diverged loss."""
    notes = []
    options = TrainingOptions.of(check)
    device_type, name = info.get("device_type", "cpu"), str(info.get("device_name") or "")
    requested = options.time_budget_s.on(device_type)
    scale = options.time_budget_s.cuda_scale
    if device_type == "cuda" and scale is not None:
        measured = (reference_s or {}).get(name)
        if info.get("budget_basis") == "reference" and measured:
            requested = scale * measured
            notes.append(f"GPU budget {requested:.3g} s: {scale:g} × the reference's own "
                         f"{measured:.3g} s of training on {name}")
        else:
            notes.append(f"the reference's training was not measured on {name or 'this GPU'}: "
                         f"the rubric's fixed {requested:g} s (benchmarks/gpu_check.py "
                         "measures it)")
    used = info.get("time_budget_s")
    if isinstance(used, (int, float)) and used < requested - 1e-3:
        notes.append(f"time budget lowered to {info['time_budget_s']:g} s to fit the check's timeout")
    if not np.all(np.isfinite(losses)):
        notes.append("the training loss became NaN or infinite (learning rate too high?)")
    return notes
