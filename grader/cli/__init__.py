"""The ``grader`` command line: one group whose commands are plugins.

Each module of this package registers its commands with ``@COMMANDS.register``
(:mod:`grader.plugins`): :mod:`~grader.cli.kit` (``check``, ``kit``),
:mod:`~grader.cli.grading` (``prepare``, ``grade``, ``rescore``, ``report``, ``export``),
:mod:`~grader.cli.semester` (after the deadline), :mod:`~grader.cli.environments`,
:mod:`~grader.cli.gradescope`, :mod:`~grader.cli.doctor` and :mod:`~grader.cli.audit`.
A new command is a new module here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader import context
from grader.context import RunContext
from grader.errors import GraderError
from grader.plugins import Registry

COMMANDS: Registry[click.Command] = Registry("command", __name__, name_of=lambda c: c.name or "")


class _PluginGroup(click.Group):
    """A group whose subcommands are the registered :data:`COMMANDS`, found on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return COMMANDS.names()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return COMMANDS.get(cmd_name)


@click.group(cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding the course data (default: $GRADER_DATA or ../shared/data).")
@click.version_option(package_name="cv-course-grader")
@click.pass_context
def cli(ctx: click.Context, data: Path | None) -> None:
    """Autograding harness for the computer-vision course."""
    if data is not None:
        if not data.is_dir():
            raise GraderError(f"--data {data}: no such folder")
        ctx.with_resource(context.running(RunContext(data_dir=str(data.resolve()))))


def main() -> None:
    """Console entry point: user errors become one sentence and exit code 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except GraderError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except SystemExit:
        raise


