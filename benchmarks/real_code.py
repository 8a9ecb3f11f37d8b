"""Real student code: the harness's points beside an independent oracle's, and the seconds.

Grades every submission of a corpus folder (``benchmarks/corpus_build.py`` writes one:
``CORPUS/<assignment>/<student>/``) with the harness, the way batch grading does
(:func:`grader.intake.submission.load` + :func:`grader.grading.grade`, every isolation layer), and
replays the same rubric cases on the student's functions outside it, scored by the oracles
of ``benchmarks/oracles.py`` (torch autograd, scipy, the course's evaluation re-stated).

Prints Markdown tables: per student and check, the harness's points, the oracle's (``-``
where none exists), the harness's check seconds and the student's own call seconds; then
per student the grading wall time against the student's own seconds (issue 20); then the
totals per assignment.

Run: ``python benchmarks/real_code.py CORPUS [--python /venv/np1/bin/python]
[--assignments proj3_backprop,...]``. ``--python`` is the interpreter the oracle calls the
student's code with (default: this one), e.g. a numpy 1.26 virtual environment for code
written for numpy 1.x; the harness always grades with its own.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracles import ORACLES, OracleScore  # noqa: E402

from grader import grading
from grader.intake import submission  # noqa: E402
from grader.rubric.assignments import rubric_path  # noqa: E402
from grader.prepare.expected import prepare  # noqa: E402
from grader.rubric.load import load_rubric  # noqa: E402


@dataclass
class Row:
    """One student's one check, on both sides."""

    student: str
    check: str
    harness: float
    oracle: float | None
    max_points: float
    harness_s: float
    student_s: float
    note: str = ""

    @property
    def agrees(self) -> bool | None:
        return None if self.oracle is None else abs(self.harness - self.oracle) < 1e-6


@dataclass
class StudentRun:
    """One student's grading, both sides."""

    assignment: str
    student: str
    rows: list[Row]
    grading_s: float      # the harness's wall time for the whole submission
    oracle_s: float       # the oracle replay's wall time (subprocess, numerical gradients)


def submissions(corpus: Path, assignments: list[str] | None) -> dict[str, list[Path]]:
    """``assignment -> student folders`` found in the corpus, in name order."""
    found = {}
    for folder in sorted(p for p in Path(corpus).iterdir() if p.is_dir()):
        if folder.name.startswith(".") or (assignments and folder.name not in assignments):
            continue
        if folder.name not in ORACLES:
            print(f"real_code: {folder.name}: no oracle for this assignment, left out",
                  file=sys.stderr)
            continue
        found[folder.name] = sorted(p for p in folder.iterdir() if p.is_dir())
    return found


def harness_grade(rubric, digest, prepared, folder: Path):
    """The harness's SubmissionResult for one folder, and its wall seconds."""
    started = time.perf_counter()
    with submission.load(folder, rubric.modules, student=folder.name,
                         provided=rubric.provided_files) as loaded:
        result = grading.grade(loaded, rubric, digest, prepared)
    return result, time.perf_counter() - started


def _note(check, oracle: OracleScore) -> str:
    """The harness's message where the two sides disagree or the check failed; else the oracle's."""
    text = check.message if check.score < check.max_score else oracle.note
    return " ".join(text.split())[:110]


def join(student: str, result, scores: list[OracleScore]) -> list[Row]:
    """One row per harness check, beside the oracle's score of the same check id."""
    by_id = {s.check_id: s for s in scores}
    rows = []
    for check in result.checks:
        oracle = by_id.get(check.id, OracleScore(check.id, None, check.max_score))
        rows.append(Row(student, check.id, check.score, oracle.points, check.max_score,
                        check.duration_s, oracle.seconds, _note(check, oracle)))
    return rows


def run_assignment(assignment: str, folders: list[Path], python: str,
                   report=lambda run: None) -> list[StudentRun]:
    """Grade and replay every folder of one assignment, telling ``report`` each student's run
    as soon as it exists (a long batch shows its rows while it goes)."""
    path = rubric_path(assignment)
    rubric, digest = load_rubric(path)
    prepared = prepare(rubric, digest)
    runs = []
    for folder in folders:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result, grading_s = harness_grade(rubric, digest, prepared, folder)
        started = time.perf_counter()
        scores = ORACLES[assignment](Path(path), folder, python)
        oracle_s = time.perf_counter() - started
        rows = join(folder.name, result, scores)
        runs.append(StudentRun(assignment, folder.name, rows, grading_s, oracle_s))
        report(runs[-1])
    return runs


def _total(rows: list[Row]) -> str:
    scored = [r.oracle for r in rows if r.oracle is not None]
    return f"{sum(scored):g}" if scored else "-"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


CHECK_HEADER = ["| student | check | harness | oracle | max | harness check s | student call s "
                "| note |", "|---|---|---:|---:|---:|---:|---:|---|"]


def check_rows(run: StudentRun) -> list[str]:
    """The check table's rows of one student, and the student's total."""
    lines = []
    for r in run.rows:
        flag = "" if r.agrees in (True, None) else " **≠**"
        lines.append(f"| {r.student} | {r.check} | {_points(r.harness)} | "
                     f"{_points(r.oracle)}{flag} | {r.max_points:g} | {r.harness_s:.3f} | "
                     f"{r.student_s:.3f} | {r.note.replace('|', '/')} |")
    lines.append(f"| **{run.student}** | **total** | **{sum(r.harness for r in run.rows):g}**"
                 f" | **{_total(run.rows)}** | {sum(r.max_points for r in run.rows):g} | "
                 f"{sum(r.harness_s for r in run.rows):.3f} | "
                 f"{sum(r.student_s for r in run.rows):.3f} | |")
    return lines


def seconds_table(runs: list[StudentRun]) -> list[str]:
    """Issue 20: per student, what grading cost against the student's own calls."""
    lines = ["| assignment | student | grading wall s | sum of check s | student's own s | "
             "check s / own s |", "|---|---|---:|---:|---:|---:|"]
    for run in runs:
        checks = sum(r.harness_s for r in run.rows)
        own = sum(r.student_s for r in run.rows)
        ratio = f"{checks / own:.1f}" if own > 0 else "-"
        lines.append(f"| {run.assignment} | {run.student} | {run.grading_s:.2f} | {checks:.2f} |"
                     f" {own:.3f} | {ratio} |")
    return lines


def totals_table(runs: list[StudentRun]) -> list[str]:
    """Per assignment: the harness's total, and both sides on the checks an oracle scores."""
    lines = ["| assignment | students | harness, all checks | checks with an oracle | "
             "harness on them | oracle on them | agree | differ |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for assignment in dict.fromkeys(r.assignment for r in runs):
        mine = [row for r in runs if r.assignment == assignment for row in r.rows]
        compared = [row for row in mine if row.oracle is not None]
        lines.append(
            f"| {assignment} | {sum(r.assignment == assignment for r in runs)} | "
            f"{sum(r.harness for r in mine):g} of {sum(r.max_points for r in mine):g} | "
            f"{len(compared)} | {sum(r.harness for r in compared):g} of "
            f"{sum(r.max_points for r in compared):g} | {sum(r.oracle for r in compared):g} | "
            f"{sum(bool(r.agrees) for r in compared)} | {sum(not r.agrees for r in compared)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="?", default=os.environ.get("GRADER_CORPUS"),
                        help="the corpus folder (default: $GRADER_CORPUS)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter the oracle calls the student's code with")
    parser.add_argument("--assignments", help="comma-separated, e.g. proj3_backprop")
    args = parser.parse_args(argv)
    if args.corpus is None or not Path(args.corpus).is_dir():
        parser.error("name the corpus folder (benchmarks/corpus_build.py writes one), "
                     "or set GRADER_CORPUS")
    wanted = args.assignments.split(",") if args.assignments else None
    found = submissions(args.corpus, wanted)
    if not any(found.values()):
        print(f"real_code: no submissions under {args.corpus}", file=sys.stderr)
        return 1
    print("\n".join(CHECK_HEADER), flush=True)
    runs = [run for assignment, folders in found.items()
            for run in run_assignment(assignment, folders, args.python,
                                      lambda run: print("\n".join(check_rows(run)), flush=True))]
    print("\n".join([""] + seconds_table(runs) + [""] + totals_table(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
