"""How long ``grader report`` takes for a class: 300 synthetic results with figures.

Builds a gradebook of synthetic :class:`~grader.results.SubmissionResult` objects
(no grading) shaped like the course's assignments: per student, five filtering
checks with output/expected thumbnails (a third of the students get them wrong,
each differently), two gradient checks (relative errors for the failing ones),
one matching check (two thumbnails, 100 matches with correct flags), one
training check (a 15-class confusion matrix), and errors, timeouts and printed
output here and there. Then it times the real CLI, ``grader report``, and prints
a Markdown table. Run: ``python benchmarks/reports.py [--students 300]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from grader.store.gradebook import Gradebook
from grader.results import CheckResult, Status, SubmissionResult

REPO = Path(__file__).resolve().parents[1]
SIDE = (120, 160)


def _scene(seed: int) -> np.ndarray:
    """A smooth photo-like grey image in [0, 1] (compresses like a real one, unlike noise)."""
    rows, cols = np.mgrid[0:SIDE[0], 0:SIDE[1]] / SIDE[1]
    rng = np.random.default_rng(seed)
    image = 0.5 + 0.25 * np.sin(6 * rows + rng.uniform(0, 3)) * np.cos(5 * cols)
    for _ in range(6):
        r, c, size = rng.integers(0, SIDE[0]), rng.integers(0, SIDE[1]), rng.integers(8, 30)
        image[r:r + size, c:c + size] = rng.uniform(0, 1)
    return image.astype(np.float32)


def _filtering(index: int, number: int, wrong: bool, visible: bool) -> CheckResult:
    expected = _scene(number)
    output = np.roll(expected, 1 + index % 5, axis=1) * (1 - 0.001 * index) if wrong else expected
    arrays = {"output": output, "label": np.array("filtered_image")}
    if visible:
        arrays["expected"] = expected
    error = float(np.abs(output - expected).max())
    message = (f"2 of 3 cases failed; first, image astronaut, filter sobel_x 3×3: filtered_image: "
               f"max abs error {error:.3g} at ({index % 60}, {index % 80}, 0) "
               f"({10 + index % 50}.0% of compared values wrong)") if wrong else "all 3 cases passed"
    return CheckResult(f"imfilter_{number}", f"my_imfilter: case set {number}", "my_imfilter",
                       Status.FAILED if wrong else Status.PASSED, 0.0 if wrong else 2.0, 2.0,
                       message, {"max_abs_error": error} if wrong else {},
                       stdout="filtered an image of shape (120, 160)\n" * (1 + index % 3),
                       duration_s=0.01 + 0.001 * (index % 40),
                       visibility="visible" if visible else "hidden", artifacts=arrays)


def _gradient(index: int, name: str, wrong: bool) -> CheckResult:
    errors = {"dx": 1.0 if wrong else 0.0, "dw": 10.0 ** -(12 + index % 4), "db": 0.0}
    details = {"forward_rel_error": 0.0, "rel_errors": errors} if wrong else {}
    return CheckResult(name, f"{name}_forward / {name}_backward", f"{name}_forward",
                       Status.FAILED if wrong else Status.PASSED, 6.0 if wrong else 9.0, 9.0,
                       "dx has relative error 1 (sign flipped?)" if wrong else "all 2 cases passed",
                       details, duration_s=0.02 + 0.01 * (index % 7))


def _matching(index: int) -> CheckResult:
    rng = np.random.default_rng(index)
    image_a, image_b = _scene(100)[::1, ::1][:96, :128], _scene(101)[:96, :128]
    points_a = rng.uniform([0, 0], [128, 96], (100, 2)).astype(np.float32)
    points_b = (points_a + rng.normal(0, 2, (100, 2))).astype(np.float32)
    correct = rng.random(100) < 0.5 + 0.45 * ((index % 10) / 10)
    accuracy = correct.mean()
    return CheckResult("accuracy_synthetic", "pipeline: top-100 accuracy", "match_features",
                       Status.PASSED if accuracy >= 0.8 else Status.FAILED,
                       round(3 * min(1.0, accuracy / 0.8), 3), 3.0,
                       f"{int(correct.sum())} of the first 100 matches correct, accuracy {accuracy:.0%}",
                       {"accuracy": float(accuracy)}, duration_s=0.8 + 0.01 * (index % 30),
                       artifacts={"image_a": image_a, "image_b": image_b, "points_a": points_a,
                                  "points_b": points_b, "correct": correct})


def _training(index: int) -> CheckResult:
    rng = np.random.default_rng(1000 + index)
    classes = 15
    skill = 0.3 + 0.6 * (index % 10) / 10
    matrix = rng.integers(0, 4, (classes, classes)) + np.diag(rng.integers(5, 40, classes) * skill).astype(int)
    accuracy = float(np.trace(matrix) / matrix.sum())
    return CheckResult("train_15scene", "Training: 15-scene test accuracy", "SimpleNet",
                       Status.PASSED if accuracy > 0.55 else Status.FAILED, round(10 * min(1, accuracy / 0.55), 2),
                       10.0, f"test accuracy {accuracy:.1%} after 20 epochs",
                       {"accuracy": accuracy, "confusion_matrix": matrix.tolist()},
                       stdout="".join(f"epoch {e}: loss {2.5 / (e + 1):.3f}\n" for e in range(20)),
                       duration_s=40 + index % 50)


def _trouble(index: int) -> CheckResult:
    if index % 37 == 0:
        return CheckResult("timing_sift", "get_features speed", "get_features", Status.TIMEOUT, 0.0,
                           1.0, "get_features took longer than 30 s (time limit)", duration_s=30.0)
    if index % 23 == 0:
        return CheckResult("timing_sift", "get_features speed", "get_features", Status.ERROR, 0.0, 1.0,
                           "get_features raised IndexError: index 128 is out of bounds",
                           {"traceback": "Traceback (most recent call last):\n  ...\nIndexError"},
                           duration_s=0.2)
    return CheckResult("timing_sift", "get_features speed", "get_features", Status.PASSED, 1.0, 1.0,
                       "1.3 times the reference's time", duration_s=1.0 + index % 5 / 10)


def synthetic_result(index: int) -> SubmissionResult:
    wrong = index % 3 == 0
    checks = [_filtering(index, n, wrong and n in (1, 3), n != 4) for n in range(5)]
    checks += [_gradient(index, "conv", wrong), _gradient(index, "affine", index % 4 == 0),
               _matching(index), _training(index), _trouble(index)]
    return SubmissionResult(f"student{index:03d}", f"{index:016x}", "synthetic_course", "bench",
                            checks, versions={"harness": "bench", "python": sys.version.split()[0]},
                            started_at="2026-01-01T00:00:00", finished_at="2026-01-01T00:01:00")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, out = Path(tmp) / "gradebook.sqlite", Path(tmp) / "reports"
        started = time.perf_counter()
        with Gradebook(db) as book:
            for index in range(args.students):
                book.record(synthetic_result(index))
        built = time.perf_counter() - started
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "grader.cli", "report", "--db", str(db),
                               "--out", str(out)], cwd=REPO, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode:
            sys.exit(proc.stderr)
        pages = sorted(out.glob("*.html"))
        sizes = [p.stat().st_size for p in pages if p.name != "index.html"]
        print(f"gradebook of {args.students} synthetic results built in {built:.1f} s\n")
        print("| students | checks each | `grader report` wall time | per student | "
              "student page, median | all files |")
        print("|---:|---:|---:|---:|---:|---:|")
        total = sum(p.stat().st_size for p in out.iterdir())
        print(f"| {args.students} | {len(synthetic_result(0).checks)} | {seconds:.1f} s | "
              f"{1000 * seconds / args.students:.0f} ms | {np.median(sizes) / 1024:.0f} KiB | "
              f"{total / 2**20:.1f} MiB |")


if __name__ == "__main__":
    main()
