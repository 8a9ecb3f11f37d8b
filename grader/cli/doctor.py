"""``grader doctor``: which isolation layers work here, what each stops, what nothing stops."""

from __future__ import annotations

import json
import sys

import click

from grader.cli import COMMANDS


@COMMANDS.register
@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--strict", is_flag=True,
              help="Exit 1 unless every guarantee holds (what isolation: strict demands).")
def doctor(as_json: bool, strict: bool) -> None:
    """Say which isolation layers work here, what each one stops, and what nothing stops."""
    from grader.sandbox import doctor as checkup

    data = checkup.report()
    click.echo(json.dumps(data, indent=2) if as_json else checkup.render(data))
    sys.exit(1 if strict and not all(g["holds"] for g in data["guarantees"].values()) else 0)
