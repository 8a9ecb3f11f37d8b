"""Harness overhead: grading one filtering submission vs calling the same functions in-process.

Prints a Markdown table. Run: ``python benchmarks/overhead.py [--repeat N]``.

- *in-process*: import the submission module and call every visible and hidden
  case's function directly (what a bare ``pytest`` of the student's code costs);
- *sandboxed*: :func:`grader.grading.grade` on the same prepared cases — workspace copy,
  worker start (bubblewrap or not, the isolation layers), import, transfer, trusted scoring —
  in each isolation mode this machine can run.
Expected outputs are prepared once beforehand (they are cached in real use).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
import warnings
from pathlib import Path

from grader import grading, submission
from grader.assignments import rubric_path
from grader.prepare import prepare
from grader.rubric import load_rubric
from grader.sandbox import isolation

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "proj1_filtering" / "alice_correct"
MODES = [  # (name, environment): every layer this machine has; no namespaces; limits only
    ("bubblewrap + all layers", {}),
    ("no namespaces (Landlock, seccomp, uid, subreaper)", {isolation.NO_BWRAP_ENV: "1"}),
    ("resource limits only", {isolation.DISABLE_ENV: "all"}),
]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    rubric, digest = load_rubric(rubric_path("proj1_filtering"))
    prepared = prepare(rubric, digest)
    cases = sum(len(p.cases) for p in prepared if not p.unavailable)
    rows = []
    for mode, env in MODES:
        os.environ.pop(isolation.NO_BWRAP_ENV, None)
        os.environ.pop(isolation.DISABLE_ENV, None)
        os.environ.update(env)
        isolation.available.cache_clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if mode.startswith("bubblewrap") and not isolation.available().has("bubblewrap"):
                continue
            direct = [in_process(prepared) for _ in range(repeat)]
            graded = [sandboxed(rubric, digest, prepared) for _ in range(repeat)]
        rows.append((mode, statistics.median(direct), statistics.median(graded)))
    print(f"proj1_filtering, example alice_correct, {cases} cases, median of {repeat}\n")
    print("| sandbox | in-process (s) | graded (s) | overhead (s) | overhead per case (ms) |")
    print("|---|---|---|---|---|")
    for mode, direct, graded in rows:
        print(f"| {mode} | {direct:.3f} | {graded:.3f} | {graded - direct:.3f} | "
              f"{1000 * (graded - direct) / cases:.1f} |")


if __name__ == "__main__":
    main()
