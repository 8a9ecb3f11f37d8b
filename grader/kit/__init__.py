"""Student kits: export an assignment without its answer key, and check work inside one.

An exported kit is a folder (or a deterministic ``.zip``)::

    README.md            the task, then how to install and self-check
    student_code.py ...  the stubs from the assignment's kit/
    requirements.txt     installs the harness wheel below (no reference/)
    wheels/              cv_course_grader_kit-<version>-py3-none-any.whl
    grader_kit/          kit.json (visible checks only) + arrays.npz (their inputs
                         and the reference's outputs, computed once here)

Hidden checks are not even named in it. Checks whose inputs come from the
course's own data (unclear rights, large) ship no data and are skipped in the
kit with a one-line reason.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import grader
from grader import grading
from grader.rubric import assignments
from grader.intake import submission
from grader.errors import GraderError
from grader.kit import bundle, wheel
from grader.prepare.expected import prepare
from grader.prepare.prepared import PreparedCheck
from grader.results import SubmissionResult
from grader.rubric.load import Rubric, load_rubric

KIT_DIR = "grader_kit"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_NOT_SHIPPED = ("needs the course's own data, which the kit does not ship; it runs when "
                "your submission is graded")


@dataclass
class Kit:
    """An unpacked kit: its root folder, visible rubric and prepared checks."""

    root: Path
    assignment: str
    rubric: Rubric
    rubric_hash: str
    prepared: list[PreparedCheck]


def find_kit(start: Path) -> Path | None:
    """The kit root at or above ``start`` (the folder holding ``grader_kit/kit.json``)."""
    for folder in [start.resolve(), *start.resolve().parents]:
        if (folder / KIT_DIR / "kit.json").is_file():
            return folder
    return None


def open_kit(root: Path) -> Kit:
    """Load the kit whose root is ``root``."""
    manifest, rubric, prepared = bundle.load(root / KIT_DIR)
    return Kit(root, manifest["assignment"], rubric, manifest["rubric_hash"], prepared)


def check_kit(kit: Kit, path: Path, only: list[str] | None = None) -> SubmissionResult:
    """Run the kit's visible checks (or those whose id or function is in ``only``) on ``path``."""
    prepared = kit.prepared
    if only:
        prepared = [p for p in prepared if p.check.id in only or p.check.function in only]
        if not prepared:
            names = sorted({p.check.function for p in kit.prepared} | {p.check.id for p in kit.prepared})
            raise GraderError(f"no visible check matches {', '.join(only)}; choose from "
                              f"{', '.join(names)}")
    with submission.load(path, kit.rubric.modules, student=path.resolve().name,
                         provided=kit.rubric.provided_files) as loaded:
        return grading.grade(loaded, kit.rubric, kit.rubric_hash, prepared)


def export(assignment: str, out: Path, zip_file: Path | None = None,
           server: str | None = None) -> list[Path]:
    """Write the kit of ``assignment`` to ``out`` (and ``zip_file``); return the files written.
    ``server``: the course's server that ``grader submit`` hands in to."""
    if out.exists() and any(out.iterdir()):
        raise GraderError(f"{out} exists and is not empty; choose a new folder for the kit")
    rubric, rubric_hash = load_rubric(assignments.rubric_path(assignment))
    source = assignments.kit_of(rubric)
    if not source.is_dir():
        raise GraderError(f"{source} does not exist; a kit needs its stubs")
    out.mkdir(parents=True, exist_ok=True)
    _copy_stubs(source, out)
    prepared = [_shippable(p) for p in prepare(rubric, rubric_hash, visible_only=True)]
    bundle.save(out / KIT_DIR, {**manifest(rubric, rubric_hash),
                                **({"server": server} if server else {})}, prepared)
    built = wheel.build(out / "wheels")
    requirements = [f"./wheels/{built.name}", *rubric.requirements]
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_readme(source, rubric), encoding="utf-8")
    files = sorted(p for p in out.rglob("*") if p.is_file())
    if zip_file is not None:
        _zip(out, files, zip_file)
    return files


def _shippable(item: PreparedCheck) -> PreparedCheck:
    if item.uses_course_data:
        return PreparedCheck(item.check, [], unavailable=_NOT_SHIPPED)
    return item


def manifest(rubric: Rubric, rubric_hash: str, visible_only: bool = True) -> dict:
    """The bundle's manifest: the rubric without its reference (and, for a kit, without the
    hidden checks, whose names and prerequisites are not even named)."""
    shown = rubric.model_dump(mode="json", exclude_defaults=True)
    if visible_only:
        shown["checks"] = [c for c in shown["checks"] if c.get("visibility", "visible") == "visible"]
    shipped = {c["id"] for c in shown["checks"]}
    for check in shown["checks"]:  # a prerequisite that is hidden is not named either
        if "requires" in check:
            check["requires"] = [r for r in check["requires"] if r in shipped]
    shown["reference"] = "not shipped"
    return {"format": 1, "assignment": rubric.assignment, "title": rubric.title,
            "rubric_hash": rubric_hash, "harness": grader.__version__, "rubric": shown}


def _copy_stubs(source: Path, out: Path) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.name != "README.md":
            target = out / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def _readme(source: Path, rubric: Rubric) -> str:
    task = (source / "README.md").read_text(encoding="utf-8") if (source / "README.md").is_file() else ""
    functions = sorted({c.function for c in rubric.checks if c.visibility == "visible"})
    example = functions[0] if functions else "FUNCTION"
    return task.rstrip() + f"""

## Self-checking with this kit

This kit holds the assignment's **visible** checks and the grading harness (no
answers). Install it once, in a virtual environment, from this folder:

```bash
python3 -m venv .venv && . .venv/bin/activate    # Windows: .venv\\Scripts\\activate
pip install -r requirements.txt
```

Then, from this folder, any of:

- `grader check` — a table of every visible check; exit status 1 if one fails.
  `grader check --only {example}` re-runs the checks of one function.
- `pytest` — each visible check is a test named by its id; `pytest -k {example}` works.
- in a notebook started in this folder: `from grader import check; check("{example}")`
  (it re-reads your file each time; no kernel restart needed).

All three run your code in a separate sandboxed process with the same limits and
give the same messages. Hidden checks run only when your submission is graded.
""" + _environment_note(rubric)


def _environment_note(rubric: Rubric) -> str:
    """What the kit README says of the course environment the checks run the code in."""
    spec = rubric.environment_spec
    if spec is None:
        return ""
    return f"""
Your code runs with the course's packages, as it will when graded: the environment
`{spec.name}` ({spec.description or ", ".join(spec.requirements)}). The first check builds it,
once, from the package index (about ten seconds; it says so when it starts).
"""


def _zip(root: Path, files: list[Path], target: Path) -> None:
    """A deterministic zip: sorted members, fixed timestamps and permissions."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            entry = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, path.read_bytes())

