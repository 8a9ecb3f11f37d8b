"""First contact with a GPU: one command that says whether the GPU path works here.

    python benchmarks/gpu_check.py            # every isolation mode this machine has
    python benchmarks/gpu_check.py --quick    # the default mode only
    python benchmarks/gpu_check.py --json     # the rows as JSON instead of the table

On a machine with an NVIDIA GPU it checks, in each isolation mode the machine has (bubblewrap
or none, cold or warm sandboxes), that

- a GPU rubric's sandbox sees the GPU: it opens every device file, CUDA initialises under
  the syscall allowlist, a matrix product runs; and a CPU rubric's sandbox sees none;
- timings synchronise the device (the drivers' clock waits for the product, the launch
  alone returns at once);
- a warm GPU sandbox is forked from a zygote that holds no CUDA (a zygote that does is
  refused, and its sandboxes start cold);
- a student that allocates more than the sandbox's GPU memory cap gets ``memory``, and the
  next sandbox finds the memory back on the device;
- proj4's ``train_glyphs`` trains on CUDA with its budget scaled by the reference's own
  training time measured on this GPU (measured first, once, and recorded), the result names
  the device; two students graded at once on the one GPU both finish;

and, once, that CUDA works under the narrowed ioctl rule (``GRADER_GPU_IOCTLS=narrow``: an
optional line, which decides whether that rule may become the default), that the zygote's
preloading never calls into CUDA, and that the device choice falls back to the CPU. It
prints one table (check, mode, result, seconds) and finishes in under eight minutes: a line
that could end past ``--budget`` seconds (460) is skipped, and says so.

Without a GPU it runs the half that needs none: a fake device file stands in for
/dev/nvidia0 (a GPU rubric's sandbox opens it, a CPU rubric's cannot), CUDA's out-of-memory
error comes from the student's code (still a ``memory`` outcome through the real driver),
the narrowed ioctl rule is compiled and tried on a pipe and a socket, the budget is scaled
for a fake GPU name; each line that needs a GPU says so. Exit status 1 if a required line
failed. docs/isolation.md (The GPU path) says what each line means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the checkout this script is in, not another installed copy

import numpy as np  # noqa: E402

from grader import grading, reference_gpu  # noqa: E402
from grader.checks.training import TrainingCheck, reference_key  # noqa: E402
from grader.intake import submission  # noqa: E402
from grader.prepare.expected import prepare  # noqa: E402
from grader.rubric.load import load_rubric  # noqa: E402
from grader.sandbox import SandboxSession, Step, gpu_checks, isolation, launcher, mounts, zygote  # noqa: E402

RUBRIC = REPO / "assignments" / "proj4_cnn" / "rubric.yaml"
EXAMPLE = REPO / "assignments" / "proj4_cnn" / "examples" / "alice_correct"
WORKER = REPO / "grader" / "worker"
PROBE = "drivers.device"
TRAINING = "drivers.cnn_training"
NEEDS_GPU = "needs a GPU"
MODES = {"bubblewrap, warm": {launcher.DISABLE_ENV: None, zygote.WARM_ENV: None},
         "bubblewrap, cold": {launcher.DISABLE_ENV: None, zygote.WARM_ENV: "0"},
         "no namespaces, warm": {launcher.DISABLE_ENV: "1", zygote.WARM_ENV: None},
         "no namespaces, cold": {launcher.DISABLE_ENV: "1", zygote.WARM_ENV: "0"}}
GPU_LIMITS = mounts.Limits(memory_mb=8192, address_space_limit=False, gpu=True,
                           gpu_memory_mb=4096)
CPU_LIMITS = mounts.Limits(memory_mb=8192, address_space_limit=False)
SMALL_CAP_MB, GREEDY_MB = 256, 1024
TRAINING_WORST_S = 150.0  # train_glyphs' 90 s limit, the sandbox's start and torch's import

STUDENT = '''
import torch

class SimpleNet(torch.nn.Module):
    """Asks for GREEDY_MB of GPU memory (over the cap); without a GPU, raises what CUDA would."""

    def __init__(self, num_classes):
        super().__init__()
        self.layer = torch.nn.Linear(64, num_classes)
        if torch.cuda.is_available():  # over the cap: CUDA's out-of-memory error, or
            self.hoard = torch.empty(GREEDY_MB << 20, dtype=torch.uint8, device="cuda")
            return  # the cap did not hold: it trains, and the line fails
        oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
        raise oom("CUDA out of memory. Tried to allocate GREEDY_MB MiB (a fake: no GPU here)")

    def forward(self, x):
        return self.layer(x.flatten(1))
'''.replace("GREEDY_MB", str(GREEDY_MB))


@dataclass
class Row:
    check: str
    mode: str
    result: str  # "pass", "FAIL", NEEDS_GPU, "skipped", "n/a"
    seconds: float
    detail: str = ""
    optional: bool = False  # a failure does not fail the run


class Checker:
    """Runs the lines, each within what is left of the time budget."""

    def __init__(self, budget_s: float, gpu: bool, fake: Path | None):
        self.ends = time.monotonic() + budget_s
        self.gpu, self.fake = gpu, fake
        self.rows: list[Row] = []
        self.folder = Path(tempfile.mkdtemp(prefix="gpu-check-"))
        (self.folder / "probe").mkdir()
        (self.folder / "probe" / "student_code.py").write_text("")
        (self.folder / "greedy").mkdir()
        (self.folder / "greedy" / "student_code.py").write_text(STUDENT)
        self.free_mb: dict[str, int] = {}
        self._prepared: tuple | None = None

    def proj4(self) -> tuple:
        """proj4's rubric, its hash and its prepared train_glyphs check (prepared once)."""
        if self._prepared is None:
            rubric, rubric_hash = load_rubric(RUBRIC)
            prepared = [p for p in prepare(rubric, rubric_hash) if p.check.id == "train_glyphs"]
            self._prepared = rubric, rubric_hash, prepared
        return self._prepared

    def line(self, check: str, mode: str, action: Callable[[], tuple[str, str]],
             needs_gpu: bool = False, optional: bool = False, worst_s: float = 45.0) -> Row:
        """Run ``action`` (its result and a detail) as one line of the table, unless it needs a
        GPU that is not here, or could run past the budget (``worst_s``: its longest)."""
        started = time.monotonic()
        if needs_gpu and not self.gpu:
            row = Row(check, mode, NEEDS_GPU, 0.0, optional=optional)
        elif started + worst_s > self.ends:
            row = Row(check, mode, "skipped", 0.0, "out of time (--budget)", optional)
        else:
            try:
                result, detail = action()
            except Exception as exc:  # noqa: BLE001 - a line that breaks is a failed line
                result, detail = "FAIL", f"{type(exc).__name__}: {exc}"
            row = Row(check, mode, result, round(time.monotonic() - started, 1), detail, optional)
        self.rows.append(row)
        print(f"  {row.check} [{row.mode}]: {row.result} {row.detail}"[:200], file=sys.stderr)
        return row

    def devices(self) -> list[str]:
        """The device files a GPU sandbox must open (folders such as /dev/nvidia-caps aside)."""
        return [d for d in mounts.gpu_devices() if not os.path.isdir(d)]

    def probe(self, limits: mounts.Limits, policy: str = "any") -> tuple[dict, SandboxSession]:
        with SandboxSession(self.folder / "probe", limits=limits, preload=("torch",)) as session:
            outcome = session.run(PROBE, [Step("probe", [policy, json.dumps(self.devices())])],
                                  None, 60)
        if outcome.status != "returned":
            raise RuntimeError(f"the probe {outcome.status}: {outcome.error[-300:]}")
        return json.loads(outcome.outputs[0]), session

    # --- the lines of one mode ----------------------------------------------------------------

    def mode(self, mode: str) -> None:
        seen: dict = {}

        def visible() -> tuple[str, str]:
            found, session = self.probe(GPU_LIMITS)
            seen.update(found, warm=session.warm)
            wanted = self.devices()
            missing = sorted(set(wanted) - set(found["opened"]))
            if missing:
                return "FAIL", f"cannot open {', '.join(missing)}"
            if self.gpu and not (found["cuda_available"] and found.get("checksum_finite")):
                return "FAIL", f"device files open, but CUDA is not usable: {found['device']}"
            self.free_mb[mode] = found.get("memory_free_mb", 0)
            return "pass", (f"{found['device']}, {len(wanted)} device files"
                            if self.gpu else f"opens the fake device {self.fake}")

        def blind() -> tuple[str, str]:
            found, _ = self.probe(CPU_LIMITS)
            if found["opened"] or found["cuda_available"]:
                return "FAIL", f"opened {found['opened']}, device {found['device']}"
            return "pass", f"no device file, {found['device']}"

        def synchronised() -> tuple[str, str]:
            if "synchronised_ms" not in seen:
                return "FAIL", "the GPU probe did not run"
            launch, waited = seen["unsynchronised_ms"], seen["synchronised_ms"]
            verdict = "pass" if waited > max(1.0, 5 * launch) else "FAIL"
            return verdict, f"8192² product: {waited:.1f} ms timed, the launch alone {launch:.2f} ms"

        def zygote_clean() -> tuple[str, str]:
            if not seen:
                return "FAIL", "the GPU probe did not run"
            return ("pass", "a GPU sandbox was forked warm: its zygote reported no CUDA") \
                if seen.get("warm") else ("FAIL", "the GPU sandbox started cold (a zygote refused: "
                                                  "see the sandbox's warnings above)")

        def capped() -> tuple[str, str]:
            limits = replace(GPU_LIMITS, gpu_memory_mb=SMALL_CAP_MB)
            config = {"model": "SimpleNet", "trainer": None, "num_classes": 2, "device": "any",
                      "time_budget_s": {"cpu": 5, "cuda": 5}, "seed": 0, "max_threads": 1}
            images = np.zeros((4, 8, 8), np.uint8)
            with SandboxSession(self.folder / "greedy", limits=limits, preload=("torch",)) as session:
                outcome = session.run(TRAINING, [Step("train_and_predict", [
                    "student_code", json.dumps(config), images, np.array([0, 1, 0, 1]), images])],
                    None, 60)
            detail = f"{outcome.status}: {outcome.error[:160]}"
            return ("pass" if outcome.status == "memory" else "FAIL"), \
                (detail if self.gpu else f"{detail} (the error raised by the student's code)")

        def returned() -> tuple[str, str]:
            before = self.free_mb.get(mode)
            if not before:
                return "FAIL", "no free memory measured before"
            found, _ = self.probe(GPU_LIMITS)
            after = found.get("memory_free_mb", 0)
            verdict = "pass" if after >= before - 64 else "FAIL"
            return verdict, f"free before {before} MiB, after the greedy student {after} MiB"

        self.line("a GPU rubric's sandbox sees the GPU", mode, visible)
        self.line("a CPU rubric's sandbox sees no GPU", mode, blind)
        self.line("timings synchronise the device", mode, synchronised, needs_gpu=True)
        if "warm" in mode:
            self.line("the warm zygote holds no CUDA", mode, zygote_clean)
        self.line(f"over the GPU memory cap ({SMALL_CAP_MB} MiB) is memory", mode, capped)
        self.line("the next sandbox gets the GPU memory back", mode, returned, needs_gpu=True)
        self.training(mode)

    def training(self, mode: str) -> None:
        results: dict[str, object] = {}

        def graded() -> tuple[str, str]:
            rubric, rubric_hash, prepared = self.proj4()
            students = ["ann", "ben"]  # graded at once, on the one GPU

            def grade(name: str) -> None:
                try:
                    with submission.load(EXAMPLE, rubric.modules, student=name,
                                         provided=rubric.provided_files) as loaded:
                        results[name] = grading.grade(loaded, rubric, rubric_hash, prepared).checks[0]
                except Exception as exc:  # noqa: BLE001 - said in the line
                    results[name] = exc

            threads = [threading.Thread(target=grade, args=(name,)) for name in students]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            first = results["ann"]
            if isinstance(first, Exception):
                return "FAIL", f"{type(first).__name__}: {first}"
            details = first.details  # type: ignore[attr-defined]
            ok = (first.status.value in ("passed", "failed")  # type: ignore[attr-defined]
                  and str(details.get("device", "")).startswith("cuda (")
                  and details.get("budget_basis") == "reference")
            return ("pass" if ok else "FAIL"), (
                f"{first.status.value}, accuracy {details.get('accuracy')}, "  # type: ignore[attr-defined]
                f"{details.get('train_seconds')} s on {details.get('device')}, budget "
                f"{details.get('time_budget_s')} s ({details.get('budget_basis')})")

        def shared() -> tuple[str, str]:
            finished = {name: r for name, r in results.items()
                        if not isinstance(r, Exception) and r.status.value in ("passed", "failed")}  # type: ignore[attr-defined]
            if len(finished) != 2:
                return "FAIL", "; ".join(f"{name}: {r if isinstance(r, Exception) else r.message[:120]}"  # type: ignore[attr-defined]
                                         for name, r in results.items() if name not in finished)
            return "pass", ", ".join(f"{name} {r.details.get('train_seconds')} s"  # type: ignore[attr-defined]
                                     for name, r in finished.items())

        self.line("proj4 train_glyphs trains on CUDA, budget from the reference", mode, graded,
                  needs_gpu=True, worst_s=TRAINING_WORST_S)
        self.line("two sandboxes share one GPU, both finish", mode, shared, needs_gpu=True)

    # --- the lines run once -------------------------------------------------------------------

    def reference(self, mode: str) -> None:
        def measured() -> tuple[str, str]:
            rubric, rubric_hash, prepared = self.proj4()
            (found,) = reference_gpu.measure(rubric, rubric_hash, prepared)
            verdict = "pass" if found.recorded else "FAIL"
            return verdict, f"{found.seconds} s on {found.device} ({found.note})"

        self.line("the reference's training is measured on this GPU", mode, measured,
                  needs_gpu=True, worst_s=TRAINING_WORST_S)

    def once(self, mode: str) -> None:
        def narrowed() -> tuple[str, str]:
            if not self.gpu:
                return compiled_narrow_rule()
            with _environment({mounts.GPU_IOCTLS_ENV: "narrow"}):
                found, _ = self.probe(GPU_LIMITS)
            ok = found["cuda_available"] and found.get("checksum_finite")
            return ("pass", f"{found['device']}: the narrowed rule may become the default") if ok \
                else ("FAIL", "CUDA failed under the narrowed rule: keep gpu: any (the default)")

        self.line("CUDA under the narrowed ioctl rule", mode, narrowed, optional=True)
        self.line("the zygote's preloading never calls into CUDA", "-", preload_without_cuda)
        self.line("the device choice falls back to the CPU", "-", device_choice)
        self.line("the GPU budget scales by the reference's time (fake GPU)", "-", scaled_budget)

    def close(self) -> None:
        zygote.close_all()
        shutil.rmtree(self.folder, ignore_errors=True)


def compiled_narrow_rule() -> tuple[str, str]:
    """The narrowed rule installed in a process of its own: NVIDIA's requests pass the filter
    (a pipe then answers ENOTTY), a socket's and a terminal's own do not (EPERM)."""
    found = gpu_checks.ioctl_errnos(narrow=True)
    ok = found == {"nvidia": [25] * 5, "socket": [1], "tiocsti": [1]}
    return ("pass" if ok else "FAIL"), ("NVIDIA's requests pass, a socket's and TIOCSTI do not "
                                        "(compiled; CUDA under it needs a GPU)" if ok else str(found))


def preload_without_cuda() -> tuple[str, str]:
    """The zygote's preloading with every way into CUDA's driver spied: none may be called."""
    found = gpu_checks.zygote_preload_report()
    ok = not found["calls"] and not found["initialized"] and found["held"] is None
    return ("pass" if ok else "FAIL"), (f"preloaded {', '.join(found['preloaded'])}; CUDA calls "
                                        f"{found['calls'] or 'none'}")


def device_choice() -> tuple[str, str]:
    sys.path.insert(0, str(WORKER))
    import torch
    from drivers import device as devices

    real = torch.cuda.is_available
    try:
        chosen = {}
        for available in (False, True):
            torch.cuda.is_available = lambda: available  # type: ignore[assignment]
            chosen[available] = [devices.pick_device(p).type for p in ("cpu", "any", "cuda")]
    finally:
        torch.cuda.is_available = real  # type: ignore[assignment]
    ok = chosen == {False: ["cpu", "cpu", "cpu"], True: ["cpu", "cuda", "cuda"]}
    return ("pass" if ok else "FAIL"), f"without a GPU {chosen[False]}, with one {chosen[True]}"


def scaled_budget() -> tuple[str, str]:
    """The budget a fake GPU gets once the reference's time on it is recorded."""
    from grader.checks import _reference_times
    from grader.prepare.prepared import PreparedCase

    rubric, _ = load_rubric(RUBRIC)
    (check,) = [c for c in rubric.checks if c.id == "train_glyphs"]
    scale = check.options["time_budget_s"].get("cuda_scale")
    if scale is None:
        return "FAIL", "proj4's train_glyphs sets no cuda_scale"
    labels = np.arange(8) % 4
    case = PreparedCase("fake", "", ["train_images", "train_labels", "test_images", "test_labels"],
                        [np.zeros((8, 4, 4), np.uint8), labels, np.zeros((8, 4, 4), np.uint8),
                         labels], [])
    with tempfile.TemporaryDirectory() as state, _environment({"GRADER_CACHE": state}):
        _reference_times.record(reference_key(check, case), "Fake GPU",
                                _reference_times.Measured(4.0, 20, "now"))
        measured = _reference_times.seconds_by_device(reference_key(check, case))
        config = TrainingCheck.driver_config(check, labels, 400, measured)
    budget = config.get("cuda_budget_by_name", {}).get("Fake GPU")
    ok = budget == round(min(scale * 4.0, 300), 3)
    return ("pass" if ok else "FAIL"), f"reference 4 s on 'Fake GPU' × {scale:g} → {budget} s"


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """``values`` in the environment (``None``: unset) meanwhile; the probes follow them."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _set(values)
        yield
    finally:
        _set(saved)


def _set(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    isolation.available.cache_clear()


@contextlib.contextmanager
def _fake_device() -> Iterator[Path]:
    """A file standing in for /dev/nvidia0, the machine's only GPU device for this run."""
    folder = Path(tempfile.mkdtemp(prefix="fake-gpu-", dir="/tmp"))
    real = mounts.gpu_devices
    try:
        folder.chmod(0o755)
        device = folder / "nvidia0"
        device.write_text("a fake GPU device file")
        device.chmod(0o666)
        mounts.gpu_devices = lambda: [str(device)]  # type: ignore[assignment]
        yield device
    finally:
        mounts.gpu_devices = real  # type: ignore[assignment]
        shutil.rmtree(folder, ignore_errors=True)


def available(mode: str) -> str | None:
    """Why ``mode`` cannot run here (``None``: it can); in its environment."""
    if "bubblewrap" in mode and not launcher.bubblewrap_available():
        return "bubblewrap cannot create namespaces here"
    if "no namespaces" in mode and not isolation.available().has("landlock"):
        return "no Landlock here: without namespaces nothing grants a device file alone"
    if "warm" in mode and zygote.why_cold() is not None:
        return str(zygote.why_cold())
    return None


def table(rows: list[Row]) -> str:
    header = ("check", "mode", "result", "s")
    cells = [header] + [(r.check, r.mode, (r.result + (f": {r.detail}" if r.detail else ""))[:110],
                         f"{r.seconds:.1f}") for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    lines = [" | ".join(c[i].ljust(widths[i]) for i in range(3)) + f" | {c[3]:>6}" for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths) + "-+-------")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the default mode only")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--budget", type=float, default=460.0,
                        help="seconds the run may take: a line that could end later is skipped "
                             "(default 460: done in under 8 minutes)")
    args = parser.parse_args()
    gpu = any(os.path.basename(d) == "nvidiactl" for d in mounts.gpu_devices())
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        fake = None if gpu else stack.enter_context(_fake_device())
        checker = Checker(args.budget, gpu, fake)
        stack.callback(checker.close)
        modes = list(MODES)[:1] if args.quick else list(MODES)
        first: str | None = None
        for mode in modes:
            with _environment(MODES[mode]):
                why = available(mode)
                if why:
                    checker.rows.append(Row("(this mode)", mode, "n/a", 0.0, why))
                    continue
                if first is None:  # the yardstick of every mode's training line
                    checker.reference(mode)
                first = first or mode
                checker.mode(mode)
                zygote.close_all()  # this mode's warm workers
        with _environment(MODES[first] if first else {}):
            checker.once(first or "-")
    rows = checker.rows
    print(json.dumps([asdict(r) for r in rows], indent=1) if args.json else table(rows))
    if not args.json:
        print(f"\n{'GPU' if gpu else 'no GPU (the CPU half; a fake device file)'}; "
              f"{time.monotonic() - started:.0f} s")
    return 1 if any(r.result == "FAIL" and not r.optional for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
