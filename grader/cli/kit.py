"""Students' commands: ``grader check`` (self-check against the visible checks) and the
instructor's ``grader kit`` that builds what students download."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from grader.cli import COMMANDS
from grader.console import console, print_result
from grader.errors import GraderError
from grader.prepare.expected import prepare
from grader.results import Status
from grader.rubric import assignments
from grader.rubric.load import load_rubric


@COMMANDS.register
@click.command()
@click.argument("where", nargs=-1, metavar="[ASSIGNMENT] [PATH]")
@click.option("--only", "only", multiple=True,
              help="Run only this check id or function's checks (repeatable).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the result as JSON.")
@click.option("--junit", "junit_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the result as JUnit XML.")
@click.option("--ci", is_flag=True, help="Print a Markdown summary (also appended to "
              "$GITHUB_STEP_SUMMARY when set) instead of the table.")
def check(where: tuple[str, ...], only: tuple[str, ...], json_out: Path | None,
          junit_out: Path | None, ci: bool) -> None:
    """Self-check your code against the visible checks; exit 1 on any failure.

    Inside an unpacked kit, run it with no argument. With the full harness,
    name the ASSIGNMENT and the PATH of the code (default: the current folder).
    """
    from grader.export import junit

    result = _self_check(where, list(only))
    if ci:
        _ci_summary(result)
    else:
        print_result(result, console())
    if json_out:
        json_out.write_text(json.dumps(result.to_dict(), indent=2))
    if junit_out:
        junit.write([result], junit_out)
    failed = [c for c in result.checks if c.status not in (Status.PASSED, Status.SKIPPED)]
    sys.exit(1 if failed else 0)


def _self_check(where: tuple[str, ...], only: list[str]):
    """Kit mode (no assignment, a kit at or above PATH) or full-harness mode (ASSIGNMENT [PATH])."""
    from grader.kit import Kit, check_kit, find_kit, open_kit

    if len(where) > 2:
        raise GraderError("check takes at most two arguments: [ASSIGNMENT] [PATH]")
    first = where[0] if where else None
    if first is None or (len(where) == 1 and Path(first).is_dir()
                         and not assignments.is_assignment(first)):
        path = Path(first or ".")
        root = find_kit(path)
        if root is None:
            raise GraderError(f"no kit at or above {path.resolve()}: name the assignment "
                              "(grader check ASSIGNMENT [PATH]) or run inside an unpacked kit")
        return check_kit(open_kit(root), path, only or None)
    path = Path(where[1]) if len(where) == 2 else Path(".")
    if not path.exists():
        raise GraderError(f"{path}: no such file or folder")
    rubric, rubric_hash = load_rubric(assignments.rubric_path(first))
    kit = Kit(path, rubric.assignment, rubric, rubric_hash, prepare(rubric, rubric_hash,
                                                                    visible_only=True))
    return check_kit(kit, path, only or None)




@COMMANDS.register
@click.command()
@click.argument("assignment")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the kit into (new or empty).")
@click.option("--zip", "zip_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the kit as a deterministic .zip.")
@click.option("--server", metavar="URL",
              help="The course's server (grader serve) that `grader submit` hands in to.")
def kit(assignment: str, out: Path, zip_file: Path | None, server: str | None) -> None:
    """Export ASSIGNMENT's student kit: stubs, visible checks as data, the harness without answers."""
    from grader.kit import export

    files = export(assignment, out, zip_file, server)
    size = sum(f.stat().st_size for f in files)
    console().print(f"wrote {len(files)} files ({size / 1024:.0f} KiB) to {out}"
                    + (f" and {zip_file}" if zip_file else ""))


@COMMANDS.register
@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path),
                default=".")
@click.option("--assignment", help="The assignment (default: the kit's).")
@click.option("--server", metavar="URL", help="The course's server (default: $GRADER_SERVER, "
              "else the kit's).")
@click.option("--token", help="Your submit token (default: $GRADER_SUBMIT_TOKEN); make one on "
              "your page of the course's server.")
@click.option("--wait", is_flag=True, help="Follow the upload until it is graded.")
def submit(folder: Path, assignment: str | None, server: str | None, token: str | None,
           wait: bool) -> None:
    """Hand in FOLDER (default: this one) to the course's server; print the receipt."""
    from grader.kit import KIT_DIR, find_kit
    from grader.kit import submit as client

    root = find_kit(folder)
    manifest = json.loads((root / KIT_DIR / "kit.json").read_text()) if root else {}
    assignment = assignment or manifest.get("assignment")
    if not assignment:
        raise GraderError("name the --assignment (FOLDER is not inside a kit)")
    token, server = client.token_and_server(token, server, manifest.get("server"))
    receipt = client.submit(server, token, assignment, client.pack(folder))
    out = console()
    out.print(f"received {receipt['name']} for {assignment} at {receipt['received_at']} "
              f"(upload #{receipt['upload']}, SHA-256 {receipt['sha256'][:16]}…)"
              + _standing(receipt), soft_wrap=True)
    if wait:
        final = client.follow(server, token, receipt["upload"],
                              lambda now: out.print(f"upload #{now['upload']}: {now['state']}"
                                                    + _standing(now), soft_wrap=True))
        if final.get("state") != "graded":
            sys.exit(1)


def _standing(receipt: dict) -> str:
    if receipt.get("score") is not None:
        return f": {receipt['score']:g}/{receipt['max_score']:g} (visible checks and any " \
               "published ones: see your page for the feedback)"
    if receipt.get("ahead") is None:
        return f" ({receipt['message']})" if receipt.get("message") else ""
    eta = receipt.get("eta_s")
    return f"; {receipt['ahead']} ahead" + (f", about {max(1, round(eta / 60))} min" if eta else "")


def _ci_summary(result) -> None:
    from grader.report import render_markdown

    text = render_markdown(result)
    click.echo(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
