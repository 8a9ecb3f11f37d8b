"""A hang costs the submission, not the batch: a hostile-heavy proj1 batch before and after.

Grades :data:`BATCH` — 21 submissions of the hostile corpus (``tests/hostile/submissions``,
written against proj1's function names) and one honest loop-based control written here —
with the real ``assignments/proj1_filtering/rubric.yaml`` (60 s limits, a 600 s budget per
submission), by ``grader grade --workers 2``, twice: **before**, a copy of the rubric with
``defaults: {calibration: null, probation: null}`` (every call gets its check's full limit,
as before calibrated limits and probation), and **after**, the rubric as it is. Both rubrics
are prepared first (``grader prepare``: the expected outputs, and the reference's time on each
case), so the timings are the grading alone. It prints the batch's wall seconds each way and,
per submission, both scores and both gradings' seconds.

``--corpus DIR`` grades the real-code corpus instead (``benchmarks/corpus_build.py --out DIR``
writes it: ``DIR/<assignment>/<student>/``), each assignment's folder both ways, and prints
every student's score before and after: calibrated limits and probation must not change one.

The batch (see :data:`BATCH`): the hangers — ``infinite_loop`` (a busy loop),
``sigterm_sleeper`` (ignores SIGTERM and sleeps), ``process_flood`` (200 sleeping processes),
``import_hang`` (never finishes its import), ``cpu_limit`` (lowers its own CPU limit and
spins) — and ``daemon_escape``, ``stdout_after_return``, the crashes, the lies and the broken
ones, with ``control_correct`` and ``honest_pixel_loop`` (one numpy window product per output
pixel: slow, honest, full marks). Left out: the memory bombs and 300 MB returns (they measure
memory, at up to 4 GiB each under proj1's limit), the escapes that need the test's observers.

Run from the repository root: ``python benchmarks/hangs.py [--workers 2] [--only after]``,
``python benchmarks/hangs.py --corpus DIR [--assignments proj1_filtering,...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
HOSTILE = REPO / "tests" / "hostile"
ASSIGNMENTS = REPO / "assignments"

BATCH = [
    # hangers
    "infinite_loop", "sigterm_sleeper", "process_flood", "import_hang", "cpu_limit",
    # processes and output
    "daemon_escape", "stdout_after_return",
    # crashes
    "exit_at_import", "os_exit_in_call", "segfault_ctypes", "stack_overflow",
    # lies
    "forged_output", "monkeypatch_numpy", "lying_ndarray", "pickle_payload",
    # broken
    "syntax_error", "missing_function", "wrong_types", "nan_output",
    # honest controls
    "control_correct", "honest_pixel_loop",
]

HONEST_PIXEL_LOOP = '''"""Honest and slow: one numpy window product per output pixel (full marks)."""
import numpy as np


def my_imfilter(image, filter):
    rows, cols = filter.shape[0] // 2, filter.shape[1] // 2
    padded = np.pad(image, ((rows, rows), (cols, cols), (0, 0)), mode="reflect")
    out = np.zeros_like(image)
    for c in range(image.shape[2]):
        for i in range(image.shape[0]):
            for j in range(image.shape[1]):
                window = padded[i:i + filter.shape[0], j:j + filter.shape[1], c]
                out[i, j, c] = np.sum(window * filter)
    return out


def create_hybrid_image(image1, image2, filter):
    low = my_imfilter(image1, filter)
    high = image2 - my_imfilter(image2, filter)
    return low, high, np.clip(low + high, 0, 1)
'''


def build_batch(folder: Path, names: list[str]) -> Path:
    """The submissions of ``names`` as folders under ``folder`` (with ``attack.py`` where the
    hostile corpus's verdicts ask for it)."""
    verdicts = yaml.safe_load((HOSTILE / "verdicts.yaml").read_text())
    folder.mkdir(parents=True)
    for name in names:
        if name == "honest_pixel_loop":
            (folder / name).mkdir()
            (folder / name / "student_code.py").write_text(HONEST_PIXEL_LOOP)
            continue
        shutil.copytree(HOSTILE / "submissions" / name, folder / name)
        if verdicts.get(name, {}).get("attack_kit"):
            shutil.copyfile(HOSTILE / "attack.py", folder / name / "attack.py")
    return folder


def rubric_before(assignment: str, folder: Path) -> Path:
    """A copy of ``assignment``'s rubric with calibration and probation off, in
    ``folder/<assignment>/`` beside a link to the course's environments (the copy's kit and
    provided files are the course assignment's, by its name)."""
    data = yaml.safe_load((ASSIGNMENTS / assignment / "rubric.yaml").read_text())
    data.setdefault("defaults", {}).update({"calibration": None, "probation": None})
    target = folder / assignment / "rubric.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    if not (folder / "environments").exists():
        (folder / "environments").symlink_to(ASSIGNMENTS / "environments")
    return target


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)


def grade(rubric: Path, submissions: Path, out: Path, workers: int) -> tuple[float, dict]:
    """``grader grade`` of ``submissions`` with ``rubric`` (prepared first, untimed): the wall
    seconds of the grading and ``student -> (score, max, seconds)``."""
    prepared = _cli("prepare", str(rubric))
    if prepared.returncode != 0:
        raise SystemExit(f"hangs: grader prepare {rubric} failed:\n{prepared.stderr[-2000:]}")
    started = time.perf_counter()
    done = _cli("grade", str(rubric), str(submissions), "--db", str(out / "gradebook.sqlite"),
                "--json", str(out / "results.json"), "--workers", str(workers), "--quiet")
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: some submission failed, which is the point
        raise SystemExit(f"hangs: grader grade failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, {r["student"]: _summary(r) for r in json.loads((out / "results.json").read_text())}


def _summary(result: dict) -> tuple[float, float, float, int]:
    """Score, maximum, seconds of grading (from the result's own times) and how many checks
    had a case whose limit was shortened and timed out."""
    from datetime import datetime

    took = (datetime.fromisoformat(result["finished_at"])
            - datetime.fromisoformat(result["started_at"])).total_seconds()
    score = sum(c["score"] for c in result["checks"])
    top = sum(c["max_score"] for c in result["checks"])
    shortened = sum("shortened_limit" in (c.get("details") or {}) for c in result["checks"])
    return round(score, 4), round(top, 4), took, shortened


def hostile(workers: int, only: str | None, names: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="hangs-") as tmp:
        root = Path(tmp)
        batch = build_batch(root / "batch", names)
        runs: dict[str, tuple[float, dict]] = {}
        for label in ("before", "after"):
            if only and label != only:
                continue
            rubric = (rubric_before("proj1_filtering", root / "rubrics") if label == "before"
                      else ASSIGNMENTS / "proj1_filtering" / "rubric.yaml")
            (root / label).mkdir()
            print(f"hangs: grading {len(names)} submissions {label} ({_load()})", file=sys.stderr)
            runs[label] = grade(rubric, batch, root / label, workers)
            print(f"hangs: {label}: {runs[label][0]:.1f} s ({_load()})", file=sys.stderr)
        _print_batch(runs, names, workers)
    return 0


def _print_batch(runs: dict[str, tuple[float, dict]], names: list[str], workers: int) -> None:
    labels = list(runs)
    print(f"| batch ({len(names)} proj1 submissions, {workers} workers) | "
          + " | ".join(f"{label} (s)" for label in labels) + " |")
    print("|---|" + "---:|" * len(labels))
    print("| wall time of `grader grade` | " + " | ".join(f"{runs[l][0]:.1f}" for l in labels) + " |")
    print()
    print("| submission | " + " | ".join(f"score {l}" for l in labels) + " | "
          + " | ".join(f"seconds {l}" for l in labels) + " | checks timed out under a shortened limit |")
    print("|---|" + "---:|" * (2 * len(labels) + 1))
    for name in names:
        rows = [runs[l][1].get(name) for l in labels]
        scores = " | ".join(f"{r[0]:g}/{r[1]:g}" if r else "-" for r in rows)
        took = " | ".join(f"{r[2]:.0f}" if r else "-" for r in rows)
        shortened = rows[-1][3] if rows[-1] else "-"
        print(f"| {name} | {scores} | {took} | {shortened} |")


def corpus(folder: Path, assignments: list[str] | None, workers: int) -> int:
    """Every corpus submission graded before and after: the scores must be the same."""
    rows, differ = [], 0
    with tempfile.TemporaryDirectory(prefix="hangs-corpus-") as tmp:
        root = Path(tmp)
        for assignment_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
            assignment = assignment_folder.name
            if assignment.startswith(".") or (assignments and assignment not in assignments):
                continue
            graded = {}
            for label in ("before", "after"):
                rubric = (rubric_before(assignment, root / "rubrics") if label == "before"
                          else ASSIGNMENTS / assignment / "rubric.yaml")
                out = root / assignment / label
                out.mkdir(parents=True)
                print(f"hangs: {assignment} {label} ({_load()})", file=sys.stderr)
                graded[label] = grade(rubric, assignment_folder, out, workers)
            for student in sorted(graded["after"][1]):
                before, after = graded["before"][1].get(student), graded["after"][1][student]
                same = before is not None and before[0] == after[0]
                differ += not same
                rows.append(f"| {assignment} | {student} | {before[0] if before else '-'} | "
                            f"{after[0]:g} of {after[1]:g} | {'yes' if same else 'NO'} | "
                            f"{before[2] if before else 0:.0f} | {after[2]:.0f} |")
    print("| assignment | student | score before | score after | same | seconds before | "
          "seconds after |")
    print("|---|---|---:|---:|---|---:|---:|")
    print("\n".join(rows))
    print(f"\n{len(rows) - differ} of {len(rows)} scores unchanged", file=sys.stderr)
    return 1 if differ else 0


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", choices=["before", "after"], help="grade one way only")
    parser.add_argument("--names", help="comma-separated submissions of the batch (default: all)")
    parser.add_argument("--corpus", type=Path, help="grade the real-code corpus in this folder")
    parser.add_argument("--assignments", help="comma-separated assignments of the corpus")
    args = parser.parse_args(argv)
    if args.corpus:
        return corpus(args.corpus, args.assignments.split(",") if args.assignments else None,
                      args.workers)
    names = args.names.split(",") if args.names else BATCH
    return hostile(args.workers, args.only, names)


if __name__ == "__main__":
    sys.exit(main())
