"""The ``training`` and ``architecture`` kinds: sandboxed drivers, trusted scoring, CPU/GPU paths."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from grader import grading
from grader.intake import submission
from grader.checks.training import TrainingCheck
from grader.prepare.expected import prepare
from grader.results import Status
from grader.rubric.load import load_rubric

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "assignments" / "proj4_cnn" / "examples"
RUBRIC = REPO / "assignments" / "proj4_cnn" / "rubric.yaml"
sys.path.insert(0, str(REPO / "grader" / "worker"))

from drivers import device as devices  # noqa: E402

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)


def _grade(student: str, check_ids: list[str]):
    """Grade ``student`` on the named checks of the project 6 rubric only."""
    rubric, rubric_hash = load_rubric(RUBRIC)
    prepared = [p for p in prepare(rubric, rubric_hash) if p.check.id in check_ids]
    with submission.load(EXAMPLES / student, rubric.modules, provided=rubric.provided_files) as loaded:
        result = grading.grade(loaded, rubric, rubric_hash, prepared)
    return {c.id: c for c in result.checks}


def test_weak_model_is_in_the_partial_band_reproducibly_and_records_the_run():
    check = _grade("bob_weak_model", ["train_glyphs"])["train_glyphs"]
    again = _grade("bob_weak_model", ["train_glyphs"])["train_glyphs"]
    assert check.details["stopped_by"] == "epochs"  # not cut by the clock: fully determined by the seed
    assert check.details["accuracy"] == again.details["accuracy"]
    assert check.details["epoch_losses"] == again.details["epoch_losses"]
    assert 0 < check.score < check.max_score and check.status == Status.FAILED
    assert 0.2 < check.details["accuracy"] < 0.75
    assert check.device == check.details["device"]
    assert check.device == ("cuda" if torch.cuda.is_available() else "cpu") or \
        check.device.startswith("cuda")
    assert check.details["epochs_completed"] == 20.0 and check.details["train_seconds"] > 0
    assert "test accuracy" in check.message and "epochs" in check.message


def test_constant_predictor_gets_zero():
    check = _grade("carol_constant", ["train_glyphs"])["train_glyphs"]
    assert check.score == 0 and check.details["accuracy"] == pytest.approx(0.1, abs=0.02)


def test_architecture_rules_name_what_is_wrong():
    bob = _grade("bob_weak_model", ["simplenet_output", "simplenet_batchnorm", "simplenet_dropout"])
    assert bob["simplenet_output"].status == Status.PASSED
    assert bob["simplenet_dropout"].status == Status.PASSED
    batchnorm = bob["simplenet_batchnorm"]
    assert "no batch normalisation after features.1" in batchnorm.message
    assert batchnorm.score == pytest.approx(1.0)  # one of two rules met
    carol = _grade("carol_constant", ["simplenet_dropout"])["simplenet_dropout"]
    assert "dropout is not active" in carol.message


@pytest.mark.parametrize("change, problem", [
    ("", None),
    ("m.weight.data.mul_(1e-2)", "std"),  # left at N(0, 1)
    ("m.weight.data.normal_(0, 1)\n        m.weight.data.mul_(1e-2)", "std"),  # PyTorch's default uniform
    ("nn.init.constant_(m.bias.data, 0)", "a bias"),  # default biases
])
def test_initialisation_rule_names_the_layers_drawn_otherwise(tmp_path, change, problem):
    source = (EXAMPLES / "alice_correct" / "student_code.py").read_text()
    assert not change or change in source
    (tmp_path / "student_code.py").write_text(source.replace(change, "pass") if change else source)
    rubric, rubric_hash = load_rubric(RUBRIC)
    prepared = [p for p in prepare(rubric, rubric_hash) if p.check.id == "simplenet_init"]
    with submission.load(tmp_path, rubric.modules, provided=rubric.provided_files) as loaded:
        (check,) = grading.grade(loaded, rubric, rubric_hash, prepared).checks
    if problem is None:
        assert check.status == Status.PASSED, check.message
    else:
        assert check.score == pytest.approx(1.0)  # batch norm is still initialised right
        assert f"features.0 ({problem}" in check.message and "classifier (" in check.message


@pytest.mark.parametrize("count", [27, 72, 144, 1152, 73728])
def test_initialisation_tolerance_passes_every_fair_draw_and_no_doubled_scale(count):
    from grader.checks.architecture import _init_problem

    rng = np.random.default_rng(count)
    for _ in range(300):
        weights = rng.normal(0.0, 0.01, count)
        layer = {"init_weight_count": count, "init_weight_mean": weights.mean(),
                 "init_weight_std": weights.std(ddof=1), "init_bias_max_abs": 0.0}
        assert _init_problem(layer, 0.01) is None
        if count >= 72:  # a layer of 8 3×3 filters on one channel, or larger
            assert _init_problem({**layer, "init_weight_std": 2 * layer["init_weight_std"]}, 0.01)
    assert _init_problem({**layer, "init_weight_std": 0.02}, 0.01).startswith("std")
    assert _init_problem({**layer, "init_weight_mean": 0.5}, 0.01).startswith("mean")
    assert _init_problem({**layer, "init_bias_max_abs": 0.1}, 0.01).startswith("a bias")
    for field in ("init_weight_std", "init_weight_mean", "init_bias_max_abs"):  # NaN weights, or a lie
        assert _init_problem({**layer, field: float("nan")}, 0.01) is not None


def test_a_model_that_cannot_run_is_an_error_not_a_crash():
    dave = _grade("dave_broken_classifier", ["simplenet_output", "train_glyphs"])
    for check in dave.values():
        assert check.status == Status.ERROR and check.score == 0
        assert "Kernel size can't be greater than actual input size" in check.message


class _Recorder:
    """A stand-in session that records the request instead of running it."""

    def __init__(self):
        self.requests = []

    def run(self, module, steps, returns, timeout_s, cpu_limit_s=None):
        from grader.sandbox import CallOutcome

        self.requests.append((module, steps, timeout_s))
        return CallOutcome("returned", [np.zeros(500, np.int64), np.ones(3), "{}"], True)


def test_test_labels_never_enter_the_sandbox_and_budgets_fit_the_timeout():
    from grader.checks.base import CheckContext

    rubric, rubric_hash = load_rubric(RUBRIC)
    (prepared,) = [p for p in prepare(rubric, rubric_hash) if p.check.id == "train_glyphs"]
    session = _Recorder()
    TrainingCheck().invoke(prepared.cases[0], prepared, CheckContext(session, 8.0))
    (module, (step,), timeout) = session.requests[0]
    labels = prepared.cases[0].args[prepared.cases[0].arg_names.index("test_labels")]
    assert module == "drivers.cnn_training" and timeout == 8.0
    sent = [a for a in step.args if isinstance(a, np.ndarray)]
    assert len(sent) == 3 and not any(a is labels for a in sent)
    config = json.loads(step.args[1])
    assert config["time_budget_s"] == {"cpu": 6.0, "cuda": 6.0}  # lowered to 3/4 of the timeout
    assert config["device"] == "any" and config["num_classes"] == 10


@pytest.mark.parametrize("options, problem", [
    ({"curve": [[0, 0], [1, 1]]}, "time_budget_s"),
    ({"curve": [[0, 0], [1, 1]], "time_budget_s": {"cpu": 10}}, "both devices"),
    ({"time_budget_s": {"cpu": 1, "cuda": 1}}, "curve"),
    ({"curve": [[0, 0]], "time_budget_s": {"cpu": 1, "cuda": 1}, "epochs": 3}, "unknown option"),
])
def test_bad_options_are_one_sentence(options, problem):
    assert problem in TrainingCheck.options_problem(options).message


def test_device_choice_falls_back_to_cpu_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.pick_device("any").type == "cpu"
    assert devices.pick_device("cuda").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert devices.pick_device("any").type == "cuda"
    assert devices.pick_device("cpu").type == "cpu"


def test_cuda_out_of_memory_becomes_memory_error():
    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    with pytest.raises(MemoryError, match="cpu out of memory"):
        with devices.out_of_memory_as_memory_error(torch.device("cpu")):
            raise oom("CUDA out of memory. Tried to allocate 20.00 GiB")
    with pytest.raises(MemoryError):
        with devices.out_of_memory_as_memory_error(torch.device("cpu")):
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 TB")
    with pytest.raises(RuntimeError, match="shapes"):
        with devices.out_of_memory_as_memory_error(torch.device("cpu")):
            raise RuntimeError("shapes cannot be multiplied")


def test_a_memory_error_from_the_driver_is_a_memory_result(tmp_path):
    (tmp_path / "student_code.py").write_text(
        "import torch\n"
        "class SimpleNet(torch.nn.Module):\n"
        "    def __init__(self, num_classes, droprate=0.5, rgb=False, verbose=False):\n"
        "        super().__init__()\n"
        "        raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 80 GiB')\n")
    rubric, rubric_hash = load_rubric(RUBRIC)
    prepared = [p for p in prepare(rubric, rubric_hash) if p.check.id == "train_glyphs"]
    with submission.load(tmp_path, rubric.modules, provided=rubric.provided_files) as loaded:
        (result,) = grading.grade(loaded, rubric, rubric_hash, prepared).checks
    assert result.status == Status.MEMORY and result.score == 0
    assert "out of memory" in result.message


def test_threads_follow_the_batch_share_and_the_cpu_clock_counts_every_thread(monkeypatch):
    monkeypatch.setenv("GRADER_THREADS", "1")
    assert devices.set_threads(max_threads=64) == 1
    monkeypatch.setenv("GRADER_THREADS", "64")
    assert devices.set_threads(max_threads=2) == min(2, len(os.sched_getaffinity(0)))
    # the CPU budget's clock is the process's CPU time, not divided by the thread count
    before = devices.clock(torch.device("cpu"))
    torch.ones(300, 300) @ torch.ones(300, 300)
    assert devices.clock(torch.device("cpu")) - before == pytest.approx(
        time.process_time() - before, abs=0.05)
    torch.set_num_threads(1)


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    from grader.checks.training import confusion_matrix

    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 0, 7])  # 7 is out of range: not counted
    assert confusion_matrix(labels, predictions).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


# -- what the student's interpreter says about its model is checked, not believed ---------

ARCHITECTURE = ["simplenet_output", "simplenet_batchnorm", "simplenet_init", "simplenet_dropout"]
DECOY_GLOBALS = '''

import sys as _sys

_driver = _sys.modules.get("drivers.cnn_inspection")
if _driver is not None:  # a decoy description: every rule met, whatever the model is
    def _decoy_layers(model):
        return [{"name": "c", "type": "Conv2d", "bases": [], "parameters": 10, "shapes": {}}], None
    _driver._layers = _decoy_layers
    _driver._forward_order = lambda model, batch: ["c"]
'''
LYING_COUNTS = '''

import sys as _sys
import dataclasses as _dataclasses

_driver = _sys.modules.get("drivers.cnn_inspection")
if _driver is not None:  # honest shapes, but the parameters sent are a perfect N(0, 0.01) draw
    def _lying_layers(model, _honest=_driver._TOOLS.layers):
        layers, values = _honest(model)
        import numpy as np
        return layers, np.random.default_rng(0).normal(0, 0.01, len(values) + 7)
    _driver.describe_model.__kwdefaults__["_tools"] = _dataclasses.replace(
        _driver._TOOLS, layers=_lying_layers)
'''


def _grade_source(tmp_path, source: str, check_ids: list[str]):
    (tmp_path / "student_code.py").write_text(source)
    rubric, rubric_hash = load_rubric(RUBRIC)
    prepared = [p for p in prepare(rubric, rubric_hash) if p.check.id in check_ids]
    with submission.load(tmp_path, rubric.modules, provided=rubric.provided_files) as loaded:
        return {c.id: c for c in grading.grade(loaded, rubric, rubric_hash, prepared).checks}


def test_rebinding_the_drivers_helpers_changes_no_architecture_score(tmp_path):
    honest = _grade("bob_weak_model", ARCHITECTURE)
    source = (EXAMPLES / "bob_weak_model" / "student_code.py").read_text()
    patched = _grade_source(tmp_path, source + DECOY_GLOBALS, ARCHITECTURE)
    assert {k: c.score for k, c in patched.items()} == {k: c.score for k, c in honest.items()}
    assert sum(c.score for c in honest.values()) < sum(c.max_score for c in honest.values())


def test_parameters_that_do_not_match_the_description_earn_nothing(tmp_path):
    source = (EXAMPLES / "alice_correct" / "student_code.py").read_text()
    # the first check's request imports the module (and its lie); the second is told the lie
    graded = _grade_source(tmp_path, source + LYING_COUNTS, ["simplenet_output", "simplenet_init"])
    lying = graded["simplenet_init"]
    assert lying.score == 0 and "does not agree with its parameters" in lying.message


FROZEN_CLOCKS = '''

import sys as _sys
import time as _time

_frozen = _time.process_time()
_time.process_time = _time.perf_counter = lambda: _frozen  # the driver's clock never advances
_device = _sys.modules.get("drivers.device")
if _device is not None:
    _device._CPU_CLOCK = _device._WALL_CLOCK = lambda: _frozen
'''


def _tight_budget(monkeypatch):
    """train_glyphs with a 2 CPU-second budget, stopped by the grader 8 CPU-seconds past it (an
    honest run spends about 4 more on importing, converting and predicting)."""
    import grader.checks.training as training

    monkeypatch.setattr(training, "_CPU_SLACK_S", 8.0)
    monkeypatch.setattr(training, "_CPU_SLACK_FRACTION", 0.0)
    monkeypatch.setattr(training, "gpu_devices", lambda: [])
    rubric, rubric_hash = load_rubric(RUBRIC)
    (prepared,) = [p for p in prepare(rubric, rubric_hash) if p.check.id == "train_glyphs"]
    options = {**prepared.check.options, "time_budget_s": {"cpu": 2, "cuda": 2}}
    prepared.check = prepared.check.model_copy(update={"options": options})
    return rubric, rubric_hash, prepared


@pytest.mark.parametrize("cheat", [False, True])
def test_the_training_budget_is_the_graders_measurement_not_the_students_clock(
        tmp_path, monkeypatch, cheat):
    rubric, rubric_hash, prepared = _tight_budget(monkeypatch)
    source = (EXAMPLES / "alice_correct" / "student_code.py").read_text()
    source = source.replace("'n_epochs': 30", "'n_epochs': 500")
    (tmp_path / "student_code.py").write_text(source + (FROZEN_CLOCKS if cheat else ""))
    with submission.load(tmp_path, rubric.modules, provided=rubric.provided_files) as loaded:
        (check,) = grading.grade(loaded, rubric, rubric_hash, [prepared]).checks
    if cheat:  # it would train 500 epochs: the grader stops it at 10 CPU-seconds
        assert check.status == Status.TIMEOUT and check.score == 0
        assert "CPU-seconds (its budget, as the grader measured it)" in check.message
    else:  # stopped by its own (honest) clock at 2 CPU-seconds, and graded
        assert check.status in (Status.PASSED, Status.FAILED), check.message
        assert check.details["stopped_by"] == "budget"
        assert check.details["cpu_seconds_measured"] < 10.0


@pytest.mark.parametrize("check_id", ["train_glyphs", "simplenet_output"])
def test_a_student_module_that_fails_to_import_says_so(tmp_path, check_id):
    (tmp_path / "student_code.py").write_text("import visdom\n")
    rubric, rubric_hash = load_rubric(RUBRIC)
    prepared = [p for p in prepare(rubric, rubric_hash) if p.check.id == check_id]
    with submission.load(tmp_path, rubric.modules, provided=rubric.provided_files) as loaded:
        (result,) = grading.grade(loaded, rubric, rubric_hash, prepared).checks
    assert result.status == Status.ERROR and result.score == 0
    assert "importing your module failed: ModuleNotFoundError: No module named 'visdom'" in \
        result.message, result.message
    assert "raised" not in result.message


def _loaded_rubric(folder: Path, cpu_budget_s: float, timeout_s: float) -> Path:
    """proj4's train_glyphs alone, with a short CPU budget and a wall limit that an idle
    machine meets and a loaded one would not (the rubric's environments beside it)."""
    import shutil

    import yaml

    data = yaml.safe_load(RUBRIC.read_text())
    (check,) = [c for c in data["checks"] if c["id"] == "train_glyphs"]
    check["timeout_s"] = timeout_s
    check["options"]["time_budget_s"] = {"cpu": cpu_budget_s, "cuda": cpu_budget_s}
    data["checks"] = [check]
    shutil.copytree(RUBRIC.parent.parent / "environments", folder / "environments")
    path = folder / "proj4_cnn.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_honest_training_on_a_loaded_machine_is_graded_not_timed_out(tmp_path):
    """Two workers and twice as many CPU burners as cores: each worker gets about a third of
    a core, so 4 CPU-seconds of training (plus importing torch) take longer than the 15 s
    wall limit. The limit follows the CPU the worker gets: both honest models are graded
    (with the limit fixed, both end in ``timeout``: ``_CpuMeter.WALL_CAP = 1``)."""
    import subprocess

    from conftest import run_grader

    rubric = _loaded_rubric(tmp_path, cpu_budget_s=4, timeout_s=15)
    for name in ("ann", "ben"):
        (tmp_path / "subs" / name).mkdir(parents=True)
        (tmp_path / "subs" / name / "student_code.py").write_text(
            (EXAMPLES / "alice_correct" / "student_code.py").read_text())
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(2 * (os.cpu_count() or 1))]
    try:
        started = time.perf_counter()
        proc = run_grader("grade", str(rubric), str(tmp_path / "subs"), "--workers", "2",
                          "--db", str(tmp_path / "book.sqlite"), "--json", str(tmp_path / "out.json"),
                          env={"GRADER_THREADS": "1"})
        wall = time.perf_counter() - started
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert proc.returncode == 0, proc.stderr
    for result in json.loads((tmp_path / "out.json").read_text()):
        (check,) = result["checks"]
        assert check["status"] in ("passed", "failed"), (result["student"], check["message"])
        assert check["details"]["stopped_by"] == "budget", check["message"]
        assert 0 <= check["details"]["accuracy"] <= 1
    assert wall > 15  # the load was real: one grading took longer than the fixed limit
