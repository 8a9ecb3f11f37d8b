"""Load a submission — a folder, a single ``.py``, or an archive — into a private folder.

Whatever the form, the student's files are copied or extracted into a fresh
temporary folder (so the sandbox never sees anything else, and nothing the
student controls is a link to elsewhere), hashed, and searched for the
modules the rubric targets.

Everything here reads untrusted input on the trusted side, so each step is linear in what it
reads and capped: the archive caps of :mod:`grader.intake.archive`, the notebook caps of
:mod:`grader.intake.ipynb`, and :data:`MAX_SOURCE_BYTES` for each graded module (what the source
rules parse and the similarity report tokenises). :mod:`grader.intake.timed` runs it all under a
wall-clock limit in a process of its own.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader import workdirs
from grader.intake import archive, ipynb
from grader.errors import SubmissionError, size_text

IGNORED_PARTS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git", "grader_kit", "wheels"}
# files that run code without being a graded source: never materialised
EXECUTABLE_SIDE_FILES = {".pyc", ".pyo", ".pth", ".so", ".pyd", ".dylib", ".dll"}
# bytes of one graded module, handed in or lifted from a notebook (on a busy 2-core machine the
# source rules scan 1 MiB in about 1.5 s, the similarity report fingerprints it in about 4 s:
# benchmarks/trusted_inputs.py)
MAX_SOURCE_BYTES = 1 << 20

# top-level modules a notebook imports that lifting looks for among the installed libraries, for
# its notes (each search is about 0.1 ms; 140 000 distinct ones in a notebook took 26 s)
MAX_SEARCHED_MODULES = 200

Step = Callable[[str], None]  # told what loading does next ("extracting alice.zip")


def _quiet(step: str) -> None:
    """A :data:`Step` that tells no one."""


@dataclass
class Submission:
    """One student's files, materialised in ``root`` (removed by :meth:`cleanup`)."""

    student: str
    root: Path
    content_hash: str
    module_dir: str
    modules: dict[str, Path]
    missing: list[str]
    notes: list[str] = field(default_factory=list)

    def source_of(self, module: str) -> str | None:
        path = self.modules.get(module)
        return path.read_text(encoding="utf-8", errors="replace") if path else None

    def cleanup(self) -> None:
        workdirs.remove(self.root)

    def __enter__(self) -> Submission:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


def student_id(path: Path) -> str:
    """The student id of a submission path: its name without extension."""
    return archive.archive_stem(path) if archive.is_archive(path) else (
        path.stem if path.is_file() else path.name)


def discover(paths: list[Path], modules: list[str]) -> list[Path]:
    """Submissions named by the user: each subfolder/archive/.py of a folder of submissions.

    A folder that itself holds one of the rubric's ``modules`` (e.g.
    ``student_code.py``) at its top level is one submission, not a collection.
    """
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise SubmissionError(f"{path}: no such file or folder")
        if path.is_dir() and not any((path / f"{m}.py").is_file() for m in modules):
            found += sorted(p for p in path.iterdir() if _is_submission(p))
        else:
            found.append(path)
    return found


def load(path: Path, modules: list[str], student: str | None = None,
         provided: dict[str, str] | None = None) -> Submission:
    """Materialise ``path``, locate ``modules`` (e.g. ``["student_code"]``) in it, and put the
    course's ``provided`` files (``name -> text``) beside them, in place of the student's.

    No time limit: :func:`grader.intake.timed.load` is this under one, for input one does not trust.
    """
    root = workdirs.make("grader-submission-")
    try:
        return load_into(root, path, modules, student, provided)
    except BaseException:
        workdirs.remove(root)
        raise


def load_into(root: Path, path: Path, modules: list[str], student: str | None = None,
              provided: dict[str, str] | None = None, step: Step = _quiet) -> Submission:
    """:func:`load` into ``root``, an empty folder the caller made and removes on failure;
    ``step`` is told what comes next, so that a caller can say which step took too long."""
    provided = provided or {}
    step(f"{'extracting' if archive.is_archive(path) else 'copying'} {path.name}")
    _materialise(path, root)
    dropped = strip_unhashed(root)
    lifted = _lift_notebooks(root, modules, step, provided)
    located = _locate(root, modules)
    for module, file in located.items():
        if f"{module}.py" not in provided:
            _check_source_size(f"{module}.py", file.stat().st_size)
    module_dir = _module_dir(root, located)
    replaced = _place_provided(root / module_dir, provided)
    step(f"hashing the files of {path.name}")
    return Submission(
        student=student or student_id(path), root=root, content_hash=content_hash(root),
        module_dir=module_dir, modules=located,
        missing=[m for m in modules if m not in located],
        notes=(_dropped_note(dropped) + lifted + _layout_notes(root, located, module_dir)
               + _provided_note(replaced)),
    )


def strip_unhashed(root: Path) -> list[str]:
    """Remove what is not graded: caches, hidden entries, kit files, and every file that could
    run without being the source graded — bytecode (``__pycache__/*.pyc``: Python imports it in
    place of a matching source), ``.pth`` and compiled extensions. What stays is exactly what
    :func:`content_hash` covers. Returns the relative paths of the files removed."""
    dropped = []
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        unwanted = _ignored(path, root) or (path.is_file() and path.suffix in EXECUTABLE_SIDE_FILES)
        if not unwanted:
            continue
        if path.is_dir() and not path.is_symlink():
            dropped += [p.relative_to(root).as_posix() for p in path.rglob("*") if p.is_file()]
            workdirs.rmtree(path)
        else:
            dropped.append(path.relative_to(root).as_posix())
            path.unlink()
    return sorted(set(dropped))


def content_hash(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes (16 hex chars)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not _ignored(p, root)):
        digest.update(os.fsencode(path.relative_to(root).as_posix()) + b"\0")
        digest.update(file_digest(path))
    return digest.hexdigest()[:16]


def file_digest(path: Path) -> bytes:
    """SHA-256 of a file's bytes, read in chunks (a file may be hundreds of MiB)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()


def _check_source_size(name: str, size: int) -> None:
    """Refuse a graded module over :data:`MAX_SOURCE_BYTES` (``size`` in bytes)."""
    if size > MAX_SOURCE_BYTES:
        raise SubmissionError(f"{name}: {size_text(size)} of source, more than the "
                              f"{size_text(MAX_SOURCE_BYTES)} a graded module may have; keep data "
                              "in files of its own (np.save) and load them")


def _lift_notebooks(root: Path, modules: list[str], step: Step = _quiet,
                    provided: dict[str, str] | None = None) -> list[str]:
    """Write each module the submission lacks as ``.py`` from its notebook: ``<module>.ipynb``,
    or the submission's only notebook (:mod:`grader.intake.ipynb`); return the notes about each
    notebook (what it defines, and its imports that are not run or known to fail)."""
    present = {p.stem for p in root.rglob("*.py") if not _ignored(p, root)}
    missing = [m for m in modules if m not in present]
    notebooks = sorted(p for p in root.rglob("*.ipynb") if not _ignored(p, root))
    if not missing or not notebooks:
        return []
    by_name = {p.stem: p for p in notebooks}
    sources: dict[Path, list[str]] = {}
    for module in missing:
        notebook = by_name.get(module) or (notebooks[0] if len(notebooks) == 1 else None)
        if notebook is not None:
            sources.setdefault(notebook, []).append(module)
    notes = []
    for notebook, lifted_modules in sources.items():
        step(f"lifting the definitions of {notebook.name}")
        lifted = ipynb.lift(notebook, lifted_modules,
                            _importable(notebook.parent, [*modules, *(provided or {})]))
        _check_source_size(f"{notebook.name} (its definitions and imports)",
                           len(lifted.source.encode("utf-8", "replace")))
        for module in lifted_modules:
            (notebook.parent / f"{module}.py").write_text(lifted.source, encoding="utf-8",
                                                          errors="replace")
        notes += [ipynb.note(notebook, lifted_modules, lifted),
                  *ipynb.import_notes(notebook, lifted)]
    return notes


def _importable(folder: Path, beside: list[str]) -> Callable[[str], bool]:
    """Whether a top-level module can be imported by code in ``folder``: a ``.py`` or package
    there, one of ``beside`` (the graded modules and the course's provided files), the standard
    library, or a library the grader's Python finds (``find_spec`` of a top-level name only
    searches: nothing is imported). For the notes of lifting; the worker's Python decides."""
    here = {Path(name).stem for name in beside} | {
        p.stem if p.suffix == ".py" else p.name for p in folder.iterdir()
        if p.suffix == ".py" or p.is_dir()}

    searched: dict[str, bool] = {}

    def importable(name: str) -> bool:
        if name in here or name in sys.stdlib_module_names or name in sys.builtin_module_names:
            return True
        if name not in searched:
            if len(searched) >= MAX_SEARCHED_MODULES:
                return True  # not known not to import
            try:
                searched[name] = importlib.util.find_spec(name) is not None
            except (ImportError, ValueError):
                searched[name] = True
        return searched[name]
    return importable


def _place_provided(folder: Path, provided: dict[str, str]) -> list[str]:
    """Write each provided file into ``folder``; return the names the student had handed in."""
    replaced = []
    for name, text in provided.items():
        target = folder / name
        if target.exists() or target.is_symlink():
            replaced.append(name)
            target.unlink()
        target.write_text(text, encoding="utf-8")
    return replaced


def _provided_note(replaced: list[str]) -> list[str]:
    if not replaced:
        return []
    return [f"{', '.join(replaced)}: provided by the course; graded with the kit's copy in place "
            "of the one handed in"]


def _materialise(path: Path, root: Path) -> None:
    if archive.is_archive(path):
        archive.extract(path, root)
    elif path.is_dir():
        archive.copy_tree_safely(path, root, skip=_not_student_files)
    elif path.is_file() and path.suffix in (".py", ".ipynb"):
        archive.copy_file_safely(path, root / path.name)
    else:
        raise SubmissionError(f"{path.name}: not a folder, a .py file, a notebook or an archive "
                              f"({', '.join(archive.ARCHIVE_SUFFIXES)})")


def _locate(root: Path, modules: list[str]) -> dict[str, Path]:
    """The shallowest ``<module>.py`` for each module; a lone .py stands for the first module."""
    located = {}
    for module in modules:
        candidates = [p for p in root.rglob(f"{module}.py") if not _ignored(p, root)]
        if candidates:
            located[module] = min(candidates, key=lambda p: (len(p.parts), str(p)))
    python_files = [p for p in root.rglob("*.py") if not _ignored(p, root)]
    if not located and len(modules) == 1 and len(python_files) == 1:
        located[modules[0]] = python_files[0].rename(python_files[0].with_name(f"{modules[0]}.py"))
    return located


def _module_dir(root: Path, located: dict[str, Path]) -> str:
    if not located:
        return "."
    first = next(iter(located.values()))
    return first.parent.relative_to(root).as_posix() or "."


def _dropped_note(dropped: list[str]) -> list[str]:
    if not any(Path(p).suffix in EXECUTABLE_SIDE_FILES for p in dropped):
        return []
    shown = ", ".join(p for p in dropped if Path(p).suffix in EXECUTABLE_SIDE_FILES)
    return [f"not graded: {shown[:300]} (bytecode, .pth or compiled files run code other than the "
            "source; the sources are graded)"]


def _layout_notes(root: Path, located: dict[str, Path], module_dir: str) -> list[str]:
    notes = []
    for module, path in located.items():
        where = path.parent.relative_to(root).as_posix() or "."
        if where != module_dir:
            notes.append(f"{module}.py is in {where}/, not beside the other modules in {module_dir}/")
    return notes


def _not_student_files(path: Path) -> bool:
    """Hidden entries, caches, kit files and virtual environments are not the student's work."""
    return (path.name.startswith(".") or path.name in IGNORED_PARTS
            or (path.is_dir() and (path / "pyvenv.cfg").is_file()))


def _ignored(path: Path, root: Path) -> bool:
    return any(part in IGNORED_PARTS or part.startswith(".")
               for part in path.relative_to(root).parts)


def _is_submission(path: Path) -> bool:
    if path.name.startswith(".") or path.name in IGNORED_PARTS:
        return False
    return path.is_dir() or archive.is_archive(path) or path.suffix in (".py", ".ipynb")
