"""Where a grading's time goes, per check: seconds and student calls reused, with and without
the call memo (grader/sandbox/memo.py).

The submission is the correct proj2 example (``assignments/proj2_features/examples/ada_correct``) with a
known cost added to every call of its detector (``--delay``, default 0.5 s of sleep in
``get_interest_points``), as a slow real pipeline would have. Prints a Markdown table per
check, then the totals against the sum of the submission's distinct calls.

Run: ``python benchmarks/repeated_calls.py [--delay 0.5]`` (course-data checks are graded when
the data is there, else skipped).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from grader import grading
from grader.intake import submission
from grader.rubric.assignments import rubric_path
from grader.prepare.expected import prepare
from grader.rubric.load import load_rubric

EXAMPLE = Path(__file__).resolve().parents[1] / "assignments" / "proj2_features" / "examples" / "ada_correct"
SLOW = '''

import time as _time
_fast_get_interest_points = get_interest_points


def get_interest_points(*args, **kwargs):
    _time.sleep({delay})
    return _fast_get_interest_points(*args, **kwargs)
'''


def slow_copy(folder: Path, delay: float) -> Path:
    """The example with ``delay`` seconds added to each detector call."""
    shutil.copytree(EXAMPLE, folder)
    harris = folder / "student_harris.py"
    harris.write_text(harris.read_text() + SLOW.format(delay=delay))
    return folder


def grade(folder: Path, reuse_calls: bool):
    rubric, rubric_hash = load_rubric(rubric_path("proj2_features"))
    prepared = prepare(rubric, rubric_hash)
    started = time.perf_counter()
    with submission.load(folder, rubric.modules) as loaded:
        result = grading.grade(loaded, rubric, rubric_hash, prepared, reuse_calls=reuse_calls)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = slow_copy(Path(scratch) / "ada_slow", args.delay)
        without, seconds_without = grade(folder, reuse_calls=False)
        with_memo, seconds_with = grade(folder, reuse_calls=True)
    print(f"proj2_features, ada_correct + {args.delay:g} s per get_interest_points call\n")
    print("| check | status | s without memo | s with memo | calls reused |")
    print("|---|---|---:|---:|---:|")
    for old, new in zip(without.checks, with_memo.checks):
        if new.status.value == "skipped":
            continue
        print(f"| {new.id} | {new.status.value} | {old.duration_s:.2f} | {new.duration_s:.2f} | "
              f"{new.details.get('calls_reused', 0)} |")
    reused = sum(c.details.get("calls_reused", 0) for c in with_memo.checks)
    print(f"\ngrading wall time: {seconds_without:.1f} s without the memo, {seconds_with:.1f} s "
          f"with it ({reused} calls reused); scores {without.score:g} and {with_memo.score:g} "
          f"of {with_memo.max_score:g}")


if __name__ == "__main__":
    main()
