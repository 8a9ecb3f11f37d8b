"""Harness overhead: grading one filtering submission vs calling the same functions in-process.

Prints a Markdown table. Run: ``python benchmarks/overhead.py [--repeat N]``.

- *in-process*: import the submission module and call every visible and hidden
  case's function directly (what a bare ``pytest`` of the student's code costs);
- *sandboxed*: :func:`grader.grading.grade` on the same prepared cases — workspace copy,
  worker start (bubblewrap or not, the isolation layers), import, transfer, trusted scoring —
  in each isolation mode this machine can run, with the worker started cold (a fresh
  interpreter, ``GRADER_WARM=0``) and warm (forked by the slot's zygote, started once
  before the timing: :mod:`grader.sandbox.zygote`);
- *the floor*: ``python -I -c "import numpy"`` in a fresh bubblewrap sandbox (a fresh
  interpreter where bubblewrap does not run), which any autograder that starts an
  interpreter per submission pays at least; timed in turn with the gradings of each row.
Expected outputs are prepared once beforehand (they are cached in real use).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from grader import grading
from grader.intake import submission
from grader.rubric.assignments import rubric_path
from grader.prepare.expected import prepare
from grader.rubric.load import load_rubric
from grader.sandbox import SandboxSession, isolation, zygote

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "assignments" / "proj1_filtering" / "examples" / "alice_correct"
MODES = [  # (name, environment): every layer this machine has; no namespaces; limits only
    ("bubblewrap + all layers", {}),
    ("no namespaces (every other layer this machine has)", {isolation.NO_BWRAP_ENV: "1"}),
    ("resource limits only", {isolation.DISABLE_ENV: "all"}),
]
FLOOR = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev",
         "--proc", "/proc"]


def in_process(prepared) -> float:
    spec = importlib.util.spec_from_file_location("student_code", EXAMPLE / "student_code.py")
    module = importlib.util.module_from_spec(spec)
    started = time.perf_counter()
    spec.loader.exec_module(module)
    for item in prepared:
        if item.unavailable:
            continue
        function = getattr(module, item.check.function)
        for case in item.cases:
            function(*[a.copy() if hasattr(a, "copy") else a for a in case.args])
    return time.perf_counter() - started


def sandboxed(rubric, digest, prepared) -> float:
    started = time.perf_counter()
    with submission.load(EXAMPLE, rubric.modules) as loaded:
        result = grading.grade(loaded, rubric, digest, prepared)
    assert result.score == result.max_score, result.to_dict()
    return time.perf_counter() - started


def floor_once(prefix: list[str]) -> float:
    """Seconds of one fresh ``python -I -c "import numpy"`` (under ``prefix``)."""
    started = time.perf_counter()
    subprocess.run([*prefix, sys.executable, "-I", "-c", "import numpy"], check=True)
    return time.perf_counter() - started


def floor_prefix() -> list[str]:
    """The floor's sandbox: a fresh bubblewrap one where bubblewrap runs, else none."""
    return FLOOR if shutil.which("bwrap") else []


def timed_modes(rubric, digest, prepared, repeat: int) -> list[tuple[str, str, float, float, float]]:
    """(mode, start, in-process s, graded s, floor s) for each mode this machine runs, cold
    and warm. The floor is timed in the same rounds as the grading it is compared with (one
    of each in turn), so that a machine that speeds up or slows down meanwhile moves both."""
    rows = []
    for mode, env in MODES:
        for start in ("cold", "warm"):
            for name in (isolation.NO_BWRAP_ENV, isolation.DISABLE_ENV, zygote.WARM_ENV):
                os.environ.pop(name, None)
            os.environ.update({**env, zygote.WARM_ENV: "1" if start == "warm" else "0"})
            isolation.available.cache_clear()
            zygote.close_all()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if mode.startswith("bubblewrap") and not isolation.available().has("bubblewrap"):
                    break
                if start == "warm" and zygote.why_cold():
                    rows.append((mode, "warm: not used (a guarantee fails)", 0.0, 0.0, 0.0))
                    continue
                sandboxed(rubric, digest, prepared)  # a warm slot's zygote starts here, once
                rounds = [(in_process(prepared), sandboxed(rubric, digest, prepared),
                           floor_once(floor_prefix())) for _ in range(repeat)]
            rows.append((mode, start, *(statistics.median(column) for column in zip(*rounds))))
    return rows


def torch_start(repeat: int) -> dict[str, float]:
    """Median seconds to start a sandbox whose module imports torch, call it once and close
    it (this machine's isolation), cold and warm (a zygote that preloaded torch)."""
    folder = Path(tempfile.mkdtemp())
    (folder / "student_code.py").write_text("import torch\n\n\ndef ready():\n    return 1\n")
    times = {}
    for start in ("cold", "warm"):
        os.environ[zygote.WARM_ENV] = "1" if start == "warm" else "0"
        zygote.close_all()
        runs = []
        for _ in range(repeat + 1):  # the first starts the zygote (warm), once per slot
            began = time.perf_counter()
            with SandboxSession(folder, preload=("torch",)) as session:
                assert session.call("student_code", "ready", [], 120).status == "returned"
            runs.append(time.perf_counter() - began)
        times[start] = statistics.median(runs[1:])
    shutil.rmtree(folder)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    rubric, digest = load_rubric(rubric_path("proj1_filtering"))
    prepared = prepare(rubric, digest)
    cases = sum(len(p.cases) for p in prepared if not p.unavailable)
    rows = timed_modes(rubric, digest, prepared, repeat)
    floor_name = ("a fresh bubblewrap sandbox" if floor_prefix() else "a fresh interpreter")
    print(f"proj1_filtering, example alice_correct, {cases} cases, median of {repeat}; the "
          f"floor: `python -I -c \"import numpy\"` in {floor_name}, timed in turn with each "
          "grading\n")
    print("| sandbox | worker | in-process (s) | graded (s) | overhead (s) | floor (s) "
          "| overhead / floor |")
    print("|---|---|---|---|---|---|---|")
    for mode, start, direct, graded, bar in rows:
        if start.startswith("warm: not used"):
            print(f"| {mode} | {start} | | | | | |")
            continue
        print(f"| {mode} | {start} | {direct:.3f} | {graded:.3f} | {graded - direct:.3f} | "
              f"{bar:.3f} | {(graded - direct) / bar:.2f} |")
    if importlib.util.find_spec("torch") is not None:
        for name in (isolation.NO_BWRAP_ENV, isolation.DISABLE_ENV):
            os.environ.pop(name, None)
        isolation.available.cache_clear()
        torch = torch_start(repeat)
        print("\nA sandbox whose module imports torch (proj4): start, import, one call, close "
              f"(median of {repeat}, {'bubblewrap' if isolation.available().has('bubblewrap') else 'no namespaces'})\n")
        print("| worker | seconds |\n|---|---|")
        for start, seconds in torch.items():
            print(f"| {start} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
