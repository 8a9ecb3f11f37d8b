"""``grader env build`` and ``grader env list``: the course environments student code runs in
(:mod:`grader.rubric.environments`)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from grader.rubric import assignments, environments
from grader.cli import COMMANDS
from grader.console import console
from grader.errors import GraderError
from grader.rubric.load import load_rubric


@COMMANDS.register
@click.group("env")
def env() -> None:
    """Course environments: the Python packages a rubric's student code runs with."""


@env.command("build")
@click.argument("assignment", nargs=-1)
@click.option("--wheels", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Install only from this folder of wheels (offline); default: "
              f"${environments.WHEELS_ENV}, else the package index.")
@click.option("--bundle", "bundle_dir", type=click.Path(exists=True, file_okay=False,
              path_type=Path), default=None, help="The environment of a packaged autograder "
              "bundle's rubric (Gradescope's setup.sh).")
def build(assignment: tuple[str, ...], wheels: Path | None, bundle_dir: Path | None) -> None:
    """Build the environment of each ASSIGNMENT (default: every assignment that names one).

    Built once, in a folder named by the hash of the definition; an environment already
    built is left as it is.
    """
    names = assignment or tuple(assignments.course_assignments())
    specs = {}
    for name, rubric in _rubrics(names, bundle_dir):
        if rubric.environment_spec is not None:
            specs[rubric.environment_spec.key] = (name, rubric.environment_spec)
        elif assignment:
            raise GraderError(f"{name} names no environment: its student code runs in the "
                              "harness's own Python")
    out = console()
    if not specs:
        out.print("no rubric names an environment: nothing to build")
    for name, spec in specs.values():
        built = environments.ensure(spec, wheels)
        packages = ", ".join(f"{p} {v}" for p, v in sorted(built.packages.items()))
        out.print(f"{spec.name} ({name}): {packages} in {built.root}")


def _rubrics(names: tuple[str, ...], bundle_dir: Path | None):
    if bundle_dir is not None:
        from grader.integrations.gradescope import load_bundle

        rubric = load_bundle(bundle_dir)[0]
        yield rubric.assignment, rubric
        return
    for name in names:
        yield name, load_rubric(assignments.rubric_path(name))[0]


@env.command("list")
def list_environments() -> None:
    """Every defined environment, the assignments that use it, and whether it is built."""
    users: dict[str, list[str]] = {}
    for name in assignments.course_assignments():
        rubric, _ = load_rubric(assignments.rubric_path(name))
        if rubric.environment:
            users.setdefault(rubric.environment, []).append(name)
    table = Table("environment", "requirements", "used by", "built")
    folder = assignments.course_dir() / "environments"
    for path in sorted(folder.glob("*.yaml")):
        spec, _ = environments.load(folder, path.stem)
        built = environments.built(spec)
        table.add_row(spec.name, ", ".join(spec.requirements), ", ".join(users.get(spec.name, [])),
                      str(built.root) if built else "no")
    console().print(table)

