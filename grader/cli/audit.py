"""``grader audit``: how much wrong code the rubric catches (instructor tooling, not in kits)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from grader.cli import COMMANDS
from grader.console import console
from grader.errors import GraderError


@COMMANDS.register
@click.command()
@click.argument("assignment")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default=True, help="Mutants graded in parallel.")
@click.option("--cluster", metavar="ADDRESS",
              help="Run on a Dask scheduler at ADDRESS, or 'local' for a local Dask cluster.")
@click.option("--max-mutants", type=click.IntRange(min=1), default=None,
              help="Grade a seeded sample of at most N mutants (default: the assignment's).")
@click.option("--all-mutants", is_flag=True, help="Grade every mutant, overriding the default sample.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option("--check-timeout", type=click.FloatRange(min=0.1), default=None,
              help="Cap on each check's time limit while grading mutants (not variants); "
                   "default 20 s, 120 s for proj4_cnn's training.")
@click.option("--no-variants", is_flag=True, help="Skip the correct variants.")
@click.option("--no-wrong-programs", is_flag=True,
              help="Skip the assignment's wrong programs (wrong_programs.yaml).")
@click.option("--no-mutants", is_flag=True,
              help="Grade no mutant: only the variants and the wrong programs.")
@click.option("--show-survivors", is_flag=True, help="Print each surviving mutant's diff.")
@click.option("--fail-under", type=click.FloatRange(0, 1), default=None,
              help="Exit 1 if the mutation score is below this, a correct variant or free "
                   "choice loses points, or a wrong program keeps them.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the audit as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
def audit(assignment: str, workers: int, cluster: str | None, max_mutants: int | None,
          all_mutants: bool, seed: int, check_timeout: float | None, no_variants: bool,
          no_wrong_programs: bool, no_mutants: bool, show_survivors: bool,
          fail_under: float | None, json_out: Path | None, quiet: bool) -> None:
    """Mutate ASSIGNMENT's reference and grade every mutant: how much wrong code does the rubric catch?"""
    try:
        from grader.audit import AuditOptions, run_audit
        from grader.audit.progress import progress_bar
    except ModuleNotFoundError:
        raise GraderError("grader audit is instructor tooling: it needs the full harness and the "
                          "answer key, not a student kit") from None

    out = console()
    with progress_bar(out, quiet) as progress:
        report = run_audit(assignment, AuditOptions(
            workers=workers, cluster=cluster, max_mutants=max_mutants, all_mutants=all_mutants,
            seed=seed, check_timeout_s=check_timeout, variants=not no_variants,
            wrong_programs=not no_wrong_programs, mutants=not no_mutants, progress=progress))
    if json_out:
        report.write_json(json_out)
    if quiet:
        out.print(report.summary())
    else:
        report.render(out, show_survivors)
    sys.exit(1 if fail_under is not None and (report.tally.score < fail_under or not report.passed)
             else 0)
