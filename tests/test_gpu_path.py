"""The GPU path, checked without a GPU: a sandbox sees the GPU only where its rubric allows one
(a fake device file stands in for /dev/nvidia0, in every isolation mode here), the warm
zygote never initialises CUDA, the GPU memory cap and CUDA's out-of-memory error through a
fake device, the GPU budget scaled by the reference's own time on the same GPU model (a fake
device name), and the limits and environment a GPU rubric's sandbox gets.

What needs a real GPU is ``benchmarks/gpu_check.py`` (docs/isolation.md: The GPU path).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from grader import grading, reference_gpu
from grader.checks import _reference_times
from grader.checks.training import TrainingCheck, TrainingOptions, reference_key
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.results import CheckResult, Status
from grader.rubric.load import load_rubric
from grader.sandbox import (CallOutcome, SandboxSession, gpu_checks, isolation, launcher,
                            mounts, zygote)
from grader.sandbox.mounts import Limits

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "grader" / "worker"
RUBRIC = REPO / "assignments" / "proj4_cnn" / "rubric.yaml"
sys.path.insert(0, str(WORKER))

from drivers import cnn_training, device as devices  # noqa: E402

FAKE_GPU = "Fake GPU 80GB"


@pytest.fixture(autouse=True)
def _own_reference_times(tmp_path, monkeypatch):
    """Each test's own record of the reference's GPU times."""
    monkeypatch.setattr(_reference_times, "path", lambda: tmp_path / _reference_times.FILE)


# --- a sandbox sees a GPU only where its rubric allows one ----------------------------------

@pytest.fixture
def fake_gpu(monkeypatch):
    """A file standing in for /dev/nvidia0 (in a folder every uid may pass), made the
    machine's only GPU device for the sandbox's launch."""
    folder = Path(tempfile.mkdtemp(prefix="fake-gpu-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        device = folder / "nvidia0"
        device.write_text("the fake GPU answers")
        device.chmod(0o666)
        monkeypatch.setattr(mounts, "gpu_devices", lambda: [str(device)])
        yield device
    finally:
        zygote.close_all()  # zygotes started with the fake device bound
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()


MODES = {"bubblewrap, cold": {launcher.DISABLE_ENV: None, zygote.WARM_ENV: "0"},
         "bubblewrap, warm": {launcher.DISABLE_ENV: None, zygote.WARM_ENV: None},
         "no namespaces, cold": {launcher.DISABLE_ENV: "1", zygote.WARM_ENV: "0"},
         "no namespaces, warm": {launcher.DISABLE_ENV: "1", zygote.WARM_ENV: None}}


@pytest.mark.slow  # a few sandboxes per mode
@pytest.mark.parametrize("mode", list(MODES))
def test_only_a_gpu_rubric_s_sandbox_opens_the_gpu_device(tmp_path, monkeypatch, fake_gpu, mode):
    """Before: every sandbox on a GPU machine had the device files bound (and granted to
    Landlock), so a CPU-only rubric's student code could open them."""
    for name, value in MODES[mode].items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    isolation.available.cache_clear()
    try:
        if "bubblewrap" in mode and not launcher.bubblewrap_available():
            pytest.skip("bubblewrap cannot create namespaces here")
        if "no namespaces" in mode and not isolation.available().has("landlock"):
            pytest.skip("without namespaces, Landlock is what grants device files")
        if "warm" in mode and zygote.why_cold() is not None:
            pytest.skip(f"sandboxes start cold here ({zygote.why_cold()})")
        (tmp_path / "student_code.py").write_text("def read(path):\n"
                                                  "    with open(path) as device:\n"
                                                  "        return device.read()\n")
        seen = {}
        for gpu in (False, True, False):  # a CPU sandbox after a GPU one (warm: its zygote)
            with SandboxSession(tmp_path, limits=Limits(gpu=gpu)) as session:
                outcome = session.call("student_code", "read", [str(fake_gpu)], 30)
                assert session.warm == ("warm" in mode)
                assert session.isolation == ("bubblewrap" if "bubblewrap" in mode else "subprocess")
            seen.setdefault(gpu, []).append(outcome)
        assert seen[True][0].status == "returned", seen[True][0].error
        assert seen[True][0].outputs == ["the fake GPU answers"]
        for refused in seen[False]:
            assert refused.status == "raised"
            assert ("FileNotFoundError" if "bubblewrap" in mode else "PermissionError") in refused.error
    finally:
        isolation.available.cache_clear()


def test_the_launch_binds_grants_and_allows_the_gpu_only_with_gpu_limits(monkeypatch):
    monkeypatch.setattr(mounts, "gpu_devices", lambda: ["/dev/nvidia0", "/dev/dri/renderD128"])
    monkeypatch.delenv(mounts.GPU_IOCTLS_ENV, raising=False)
    plans = {}
    for gpu in (False, True):
        limits = Limits(gpu=gpu)
        prefix = mounts.bwrap_prefix((Path("/x"), "/submission"), limits, False, ["/opt/py"])
        confine = mounts.confinement({"landlock", "seccomp"}, None, read=mounts.system_paths(gpu),
                                     write=["/scratch"], protect=[], gpu=gpu)
        plans[gpu] = (prefix, confine)
    cpu_prefix, cpu_confine = plans[False]
    gpu_prefix, gpu_confine = plans[True]
    assert "--dev-bind" not in cpu_prefix and "/dev/nvidia0" not in cpu_confine["landlock"]["devices"]
    assert ["ioctl", None] not in cpu_confine["seccomp"]["rules"]["allow"]
    assert not set(mounts.GPU_READ) & set(cpu_confine["landlock"]["read"])
    assert gpu_prefix[gpu_prefix.index("/dev/nvidia0") - 1] == "--dev-bind"
    assert {"/dev/nvidia0", "/dev/dri/renderD128"} <= set(gpu_confine["landlock"]["devices"])
    assert ["ioctl", None] in gpu_confine["seccomp"]["rules"]["allow"]
    assert set(mounts.GPU_READ) <= set(gpu_confine["landlock"]["read"])
    # /dev/dri is made passable for a sandbox uid; /dev stays bubblewrap's own
    made = [gpu_prefix[i + 1] for i, arg in enumerate(gpu_prefix) if arg == "--dir"]
    assert "/dev/dri" in made and "/dev" not in made
    # the narrowed GPU ioctl rule, where asked for, instead of every ioctl
    monkeypatch.setenv(mounts.GPU_IOCTLS_ENV, "narrow")
    narrowed = mounts.confinement({"seccomp"}, None, read=[], write=[], protect=[], gpu=True)
    ioctl = [rule for name, rule in narrowed["seccomp"]["rules"]["allow"] if name == "ioctl"]
    assert None not in ioctl and [1, 0xFF00, ord("F") << 8] in ioctl


def test_a_zygote_serves_only_sandboxes_of_its_own_gpu_access():
    key = zygote.Key(mounts.Interpreter(), ("torch",), 128, 64, False, ("bubblewrap",))
    assert key != zygote.Key(mounts.Interpreter(), ("torch",), 128, 64, False, ("bubblewrap",),
                             gpu=True)


def test_a_gpu_sandbox_gets_its_gpus_and_memory_cap_in_its_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    where = launcher.Places(str(tmp_path), str(tmp_path), str(WORKER), (str(tmp_path),))
    cpu = launcher.worker_environment(where, "m", Limits())
    gpu = launcher.worker_environment(where, "m", Limits(gpu=True, gpu_memory_mb=1024))
    assert "CUDA_VISIBLE_DEVICES" not in cpu and mounts.GPU_MEMORY_ENV not in cpu
    assert gpu["CUDA_VISIBLE_DEVICES"] == "2" and gpu[mounts.GPU_MEMORY_ENV] == "1024"


def test_the_rubric_decides_whether_the_sandbox_may_use_a_gpu_and_how_much_of_it():
    rubric, _ = load_rubric(RUBRIC)
    by_id = {check.id: check for check in rubric.checks}
    cpu_only = grading._limits(rubric, [PreparedCheck(by_id["simplenet_output"], [])])
    assert not cpu_only.gpu and cpu_only.gpu_memory_mb is None and cpu_only.address_space_limit
    training = by_id["train_glyphs"]
    assert training.device == "any"
    on_gpu = grading._limits(rubric, [PreparedCheck(training, [])])
    assert on_gpu.gpu and on_gpu.gpu_memory_mb == rubric.defaults.gpu_memory_mb == 4096
    assert not on_gpu.address_space_limit
    bigger = training.model_copy(update={"gpu_memory_mb": 6000})
    assert grading._limits(rubric, [PreparedCheck(bigger, [])]).gpu_memory_mb == 6000


# --- the warm zygote never initialises CUDA -------------------------------------------------

def test_the_zygote_preloads_torch_without_calling_into_cuda():
    """A process that forks after CUDA was initialised hands its children a broken context:
    the zygote imports torch and torchvision for every proj4 sandbox, and must not ask the
    driver anything (is_available would)."""
    assert gpu_checks.zygote_preload_report() == {
        "preloaded": ["torch", "torchvision"], "calls": [], "initialized": False, "held": None}


def test_a_zygote_that_holds_cuda_is_refused_and_sandboxes_start_cold(monkeypatch, tmp_path):
    """What the zygote reports after preloading: a CUDA context (or an open GPU device file)
    refuses it, as a zygote that runs threads is refused."""
    said = tmp_path / "said"
    script = ("import json, socket, sys; s = socket.socket(fileno=int(sys.argv[1])); "
              "s.sendall(json.dumps({'ready': True, 'threads': 1, 'preloaded': ['torch'], "
              "'cuda': 'torch.cuda is initialised'}).encode()); s.recv(1)")

    def plan(slot, control_fd, preload, limits, keep_root, interpreter):
        return launcher.LaunchPlan([sys.executable, "-c", script, str(control_fd)], {},
                                   "subprocess", ())

    monkeypatch.setattr(launcher, "zygote_plan", plan)
    monkeypatch.setattr(isolation, "say_once", lambda text: said.write_text(text))
    monkeypatch.setattr(zygote, "why_cold", lambda: None)
    key = zygote.Key(mounts.Interpreter(), ("torch",), 128, 64, False, ("fake",), gpu=True)
    with pytest.raises(zygote.ZygoteError, match="initialised CUDA"):
        zygote.Zygote(key)
    assert zygote.borrow(key) is None
    assert "initialised CUDA (torch.cuda is initialised)" in said.read_text()


# --- the GPU memory cap and CUDA's out-of-memory error, through a fake device ---------------

class _FakeCuda:
    """What the driver asks of torch.cuda on a GPU, recorded: a 16 GiB device."""

    def __init__(self, monkeypatch):
        self.calls: list[tuple] = []
        monkeypatch.setattr(torch.cuda, "get_device_properties",
                            lambda device: types.SimpleNamespace(total_memory=16 << 30))
        monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction",
                            lambda fraction, device=None: self.calls.append(("fraction", fraction)))
        monkeypatch.setattr(torch.cuda, "empty_cache", lambda: self.calls.append(("empty_cache",)))


def test_the_gpu_memory_cap_is_a_fraction_of_the_device_set_before_the_model(monkeypatch):
    fake = _FakeCuda(monkeypatch)
    cuda = torch.device("cuda")
    monkeypatch.delenv(devices.GPU_MEMORY_ENV, raising=False)
    assert devices.cap_gpu_memory(cuda) is None and fake.calls == []
    monkeypatch.setenv(devices.GPU_MEMORY_ENV, "4096")
    assert devices.cap_gpu_memory(torch.device("cpu")) is None and fake.calls == []
    assert devices.cap_gpu_memory(cuda) == 4096
    assert fake.calls == [("fraction", 0.25)]
    monkeypatch.setenv(devices.GPU_MEMORY_ENV, "65536")  # more than the device: all of it
    devices.cap_gpu_memory(cuda)
    assert fake.calls[-1] == ("fraction", 1.0)
    assert mounts.GPU_MEMORY_ENV == devices.GPU_MEMORY_ENV  # the grader's name for it


@pytest.mark.parametrize("error", [
    "CUDA error: out of memory",
    "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"])
def test_cuda_failing_to_allocate_outside_the_caching_allocator_is_a_memory_error(error):
    with pytest.raises(MemoryError, match="out of memory"):
        with devices.out_of_memory_as_memory_error(torch.device("cpu")):
            raise RuntimeError(error)


def test_a_model_over_the_gpu_cap_is_a_memory_error_from_the_driver(monkeypatch, tmp_path):
    """The training driver on a fake GPU: the cap is set before the student's model is built,
    and the allocator's CUDA out-of-memory error leaves the driver as MemoryError (the
    worker's ``memory`` outcome), naming the cap."""
    fake = _FakeCuda(monkeypatch)
    monkeypatch.setenv(devices.GPU_MEMORY_ENV, "4096")
    monkeypatch.setattr(devices, "pick_device", lambda policy: torch.device("cuda"))
    monkeypatch.setattr(devices, "name", lambda device: FAKE_GPU)
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    module = types.ModuleType("fake_gpu_student")

    class SimpleNet(torch.nn.Module):
        def __init__(self, num_classes):
            super().__init__()
            fake.calls.append(("model",))
            raise oom("CUDA out of memory. Tried to allocate 6.00 GiB (GPU 0; 4.00 GiB allowed)")

    module.SimpleNet = SimpleNet  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_gpu_student", module)
    config = {"model": "SimpleNet", "trainer": None, "num_classes": 2, "device": "any",
              "time_budget_s": {"cpu": 5, "cuda": 5}, "seed": 0, "max_threads": 1}
    images = np.zeros((4, 8, 8), np.uint8)
    with pytest.raises(MemoryError, match=r"cuda out of memory \(this sandbox may hold 4096 MiB"):
        cnn_training.train_and_predict("fake_gpu_student", json.dumps(config), images,
                                       np.array([0, 1, 0, 1]), images)
    assert fake.calls == [("fraction", 0.25), ("model",), ("empty_cache",)]


# --- the GPU budget: the reference's own time on the same GPU model -------------------------

def _train_glyphs() -> tuple[object, PreparedCase]:
    rubric, _ = load_rubric(RUBRIC)
    (check,) = [c for c in rubric.checks if c.id == "train_glyphs"]
    options = {**check.options, "time_budget_s": {"cpu": 60, "cuda": 10, "cuda_scale": 3}}
    check = check.model_copy(update={"options": options})
    rng = np.random.default_rng(0)
    names = ["train_images", "train_labels", "test_images", "test_labels"]
    args = [rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), np.arange(20) % 4,
            rng.integers(0, 256, (8, 8, 8), dtype=np.uint8), np.arange(8) % 4]
    return check, PreparedCase("glyphs", "", names, args, [])


def test_the_gpu_budget_is_the_scale_times_the_reference_s_time_on_that_gpu(monkeypatch):
    check, case = _train_glyphs()
    labels = case.args[1]
    assert TrainingOptions.of(check).time_budget_s.cuda_scale == 3
    config = TrainingCheck.driver_config(check, labels, 400, {FAKE_GPU: 4.0, "Slow GPU": 500.0})
    assert config["time_budget_s"] == {"cpu": 60, "cuda": 10}
    assert config["cuda_budget_by_name"] == {FAKE_GPU: 12.0, "Slow GPU": 300.0}  # 3/4 of 400 s
    assert "cuda_budget_by_name" not in TrainingCheck.driver_config(check, labels, 400, {})
    # the driver looks its own GPU up by name; any other GPU gets the rubric's seconds
    assert devices.training_budget(torch.device("cuda"), FAKE_GPU, config) == (12.0, "reference")
    assert devices.training_budget(torch.device("cuda"), "Other GPU", config) == (10.0, "rubric")
    assert devices.training_budget(torch.device("cpu"), "cpu", config) == (60.0, "rubric")


def test_the_reference_s_time_is_recorded_per_gpu_model_and_keyed_by_its_training(monkeypatch):
    check, case = _train_glyphs()
    key = reference_key(check, case)
    assert _reference_times.seconds_by_device(key) == {}
    _reference_times.record(key, FAKE_GPU, _reference_times.Measured(4.0, 20, "now"))
    _reference_times.record(key, "Other GPU", _reference_times.Measured(9.5, 20, "now"))
    assert _reference_times.seconds_by_device(key) == {FAKE_GPU: 4.0, "Other GPU": 9.5}
    reworded = check.model_copy(update={"options": {**check.options, "curve": [[0, 0], [1, 1]],
                                                    "time_budget_s": {"cpu": 1, "cuda": 1}}})
    assert reference_key(reworded, case) == key  # the curve and budgets do not shape it
    reseeded = check.model_copy(update={"options": {**check.options, "seed": 7}})
    assert reference_key(reseeded, case) != key
    other = PreparedCase(case.id, "", case.arg_names, [case.args[0][::-1].copy(), *case.args[1:]], [])
    assert reference_key(check, other) != key


def test_without_a_gpu_the_record_is_never_read(monkeypatch):
    from grader.checks import training

    check, case = _train_glyphs()
    _reference_times.record(reference_key(check, case), FAKE_GPU,
                            _reference_times.Measured(4.0, 20, "now"))
    monkeypatch.setattr(training, "gpu_devices", lambda: [])
    assert training.reference_seconds(check, case) == {}
    monkeypatch.setattr(training, "gpu_devices", lambda: ["/dev/nvidia0"])
    assert training.reference_seconds(check, case) == {FAKE_GPU: 4.0}
    on_cpu = check.model_copy(update={"device": "cpu"})
    assert training.reference_seconds(on_cpu, case) == {}


def _driver_info(**overrides) -> str:
    info = {"device": f"cuda ({FAKE_GPU})", "device_type": "cuda", "device_name": FAKE_GPU,
            "threads": 2, "epochs_completed": 20.0, "train_seconds": 11.9, "time_budget_s": 12.0,
            "budget_basis": "reference", "gpu_memory_cap_mb": 4096, "stopped_by": "epochs",
            "n_epochs": 20}
    return json.dumps(info | overrides)


class _Session:
    """Answers the training request as the driver would on the fake GPU."""

    def __init__(self, info: str):
        self.info, self.configs = info, []

    def run(self, module, steps, returns, timeout_s, cpu_limit_s=None):
        self.configs.append(json.loads(steps[0].args[1]))
        return CallOutcome("returned", [np.arange(8) % 4, np.ones(20), self.info], True)


@pytest.mark.parametrize("measured", [True, False])
def test_the_result_records_the_gpu_its_name_and_where_its_budget_came_from(measured, monkeypatch):
    from grader.checks import training
    from grader.checks.base import CheckContext

    monkeypatch.setattr(training, "gpu_devices", lambda: ["/dev/nvidia0"])  # a GPU machine

    check, case = _train_glyphs()
    if measured:
        _reference_times.record(reference_key(check, case), FAKE_GPU,
                                _reference_times.Measured(4.0, 20, "now"))
    session = _Session(_driver_info() if measured else
                       _driver_info(budget_basis="rubric", time_budget_s=10.0))
    result = TrainingCheck().run(PreparedCheck(check, [case]), CheckContext(session, 400))
    assert session.configs[0].get("cuda_budget_by_name") == ({FAKE_GPU: 12.0} if measured else None)
    assert result.device == f"cuda ({FAKE_GPU})"
    assert result.details["device_name"] == FAKE_GPU and result.details["gpu_memory_cap_mb"] == 4096
    if measured:
        assert result.details["budget_basis"] == "reference"
        assert f"GPU budget 12 s: 3 × the reference's own 4 s of training on {FAKE_GPU}" in result.message
    else:
        assert result.details["budget_basis"] == "rubric"
        assert f"the reference's training was not measured on {FAKE_GPU}" in result.message
    assert "lowered" not in result.message


def test_measuring_the_reference_records_gpu_times_only(monkeypatch):
    """``grader.reference_gpu`` grades the reference as a student (here: a fake grading that
    trained on a fake GPU, or on the CPU) and records its seconds under the GPU's name,
    extrapolated to its own epochs where the check's timeout cut it short."""
    check, case = _train_glyphs()
    rubric, rubric_hash = load_rubric(RUBRIC)
    graded = []

    def fake_grade(loaded, rubric, rubric_hash, prepared):
        (item,) = prepared
        source = (loaded.root / loaded.module_dir / "student_code.py").read_text()
        graded.append((item.check.options["time_budget_s"], "def custom_part1_trainer" in source))
        details = json.loads(_driver_info(**outcome)) | {"accuracy": 0.9}
        return types.SimpleNamespace(checks=[CheckResult(
            check.id, check.name, check.function, Status.PASSED, 1.0, 1.0, "ok", details=details)])

    monkeypatch.setattr(grading, "grade", fake_grade)
    for outcome, recorded, seconds in (
            ({"train_seconds": 4.0}, True, 4.0),
            ({"train_seconds": 5.0, "epochs_completed": 10.0, "stopped_by": "budget"}, True, 10.0),
            ({"device": "cpu", "device_type": "cpu", "device_name": "cpu"}, False, 11.9)):
        (found,) = reference_gpu.measure(rubric, rubric_hash, [PreparedCheck(check, [case])])
        assert (found.recorded, found.seconds) == (recorded, seconds)
    assert graded[0] == ({"cpu": reference_gpu.UNBOUNDED_S, "cuda": reference_gpu.UNBOUNDED_S}, True)
    assert _reference_times.seconds_by_device(reference_key(check, case)) == {FAKE_GPU: 10.0}
    assert reference_gpu.measure(rubric, rubric_hash, [PreparedCheck(
        check.model_copy(update={"device": "cpu"}), [case])]) == []


def test_timing_on_a_gpu_synchronises_before_reading_the_clock(monkeypatch):
    synchronised = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: synchronised.append(device))
    cuda = torch.device("cuda")
    devices.clock(cuda)
    assert synchronised == [cuda]
    devices.clock(torch.device("cpu"))
    assert synchronised == [cuda]  # the CPU clock is CPU time, nothing to wait for


def test_the_device_probe_on_the_cpu_opens_what_it_may_and_calls_no_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    readable = tmp_path / "nvidia0"
    readable.write_text("x")
    found = json.loads(devices.probe("any", json.dumps([str(readable), str(tmp_path / "none")])))
    assert found == {"opened": [str(readable)], "device": "cpu", "name": "cpu",
                     "cuda_available": False}


@pytest.mark.slow  # sandboxes in every mode
def test_gpu_check_runs_its_cpu_half_here():
    """``benchmarks/gpu_check.py`` without a GPU: one table, every GPU line said to need one."""
    if os.path.exists("/dev/nvidiactl"):
        pytest.skip("a GPU is here: the script's GPU half is its own run")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--quick",
                           "--json"], capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(proc.stdout)
    assert rows and all(row["result"] != "FAIL" for row in rows)
    assert any(row["result"] == "needs a GPU" for row in rows)
    assert any(row["check"].startswith("a CPU rubric's sandbox") and row["result"] == "pass"
               for row in rows)
