"""Where the sandbox may read, and what inside those places it must never read.

A worker reads the system (``/usr``, ``/lib``, ...) and the Python installation it runs in.
Both can hold the answer key and the harness: an editable checkout, ``pip install .`` into
a venv, the system's Python (``/usr/lib/python3/dist-packages``), a ``python:3.x`` image's
``/usr/local``. This module finds them where they really are (the packages this process
imports, and every copy of their names in the installation), so that the sandbox's file
rules carve them out (:mod:`~grader.worker.confine.carve`, bubblewrap's masks), and
names a *witness* for each: a real file inside it that the worker must fail to open before
any student code runs (:mod:`~grader.worker.confine.selftest`).
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import os
import site
import sys
import sysconfig
from pathlib import Path

from grader import datapath, workdirs

WORKER_DIR = Path(__file__).resolve().parent.parent / "worker"  # the student side's code

SYSTEM = ["/usr", "/bin", "/lib", "/lib64", "/sbin"]
HIDDEN_PACKAGES = ("reference", "grader", "assignments")
DISTRIBUTION = "cv_course_grader"
WITNESS_DEPTH = 3  # how deep a witness file is looked for in a hidden folder


@functools.cache
def python_roots() -> tuple[str, ...]:
    """Folders the harness's interpreter and its packages live in (found once per process)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        roots.add(sysconfig.get_path(key))
    return tuple(sorted(r for r in roots if r and Path(r).exists()))


def hidden_paths() -> list[str]:
    """What must stay unreadable, also where it lies inside a granted tree: every installed
    copy of the answer key and the harness, the repository, the grader's state and the course
    data."""
    data = datapath.course_data_dir()
    return list(_hidden_paths(str(datapath.state_root()), str(data) if data else None))


@functools.lru_cache(maxsize=8)
def _hidden_paths(state: str, data: str | None) -> tuple[str, ...]:
    hidden = [str(Path(folder).resolve()) for folder in _imported_packages()]
    for root in _package_folders():
        hidden += [str(Path(root, name).resolve()) for name in HIDDEN_PACKAGES
                   if os.path.lexists(os.path.join(root, name))]
        hidden += glob.glob(os.path.join(root, f"__editable__*{DISTRIBUTION}*"))
        hidden += glob.glob(os.path.join(root, f"{DISTRIBUTION}*.dist-info"))
        hidden += glob.glob(os.path.join(root, f"{DISTRIBUTION}*.egg-link"))
    if _is_checkout(datapath.REPO_ROOT):
        hidden.append(str(datapath.REPO_ROOT))
    hidden += [state] + ([data] if data else [])
    return tuple(dict.fromkeys(os.path.realpath(path) for path in hidden))


def witnesses(hidden: list[str]) -> list[str]:
    """Real paths a worker must fail to open, one per hidden place: a file inside it where it
    holds one (an empty mask over a folder would open), else the place itself."""
    return [_witness(path) for path in hidden if os.path.lexists(path)]


def sandbox_witnesses(materialised: Path) -> tuple[str, ...]:
    """What one sandbox must fail to open besides :func:`witnesses`: this process's folder of
    workspaces and submissions (listing it would find other students'), and a file of
    ``materialised``, the grader's own copy of the submission (the sandbox reads another)."""
    base = workdirs.current_base()
    own = _first_file(str(materialised), WITNESS_DEPTH)
    return tuple([str(base)] if base is not None else []) + ((own,) if own else ())


@functools.lru_cache(maxsize=256)
def _witness(path: str) -> str:
    if not os.path.isdir(path):
        return path
    preferred = os.path.join(path, "__init__.py")
    return preferred if os.path.isfile(preferred) else (_first_file(path, WITNESS_DEPTH) or path)


def _first_file(folder: str, depth: int) -> str | None:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return None
    for entry in entries:
        if entry.is_file(follow_symlinks=False):
            return entry.path
    for entry in entries if depth > 1 else []:
        if entry.is_dir(follow_symlinks=False):
            found = _first_file(entry.path, depth - 1)
            if found:
                return found
    return None


def _imported_packages() -> list[str]:
    """The folders this process imports ``grader`` and ``reference`` from, wherever they are."""
    found = []
    for name in ("grader", "reference"):
        spec = importlib.util.find_spec(name)
        found += list(spec.submodule_search_locations or []) if spec else []
    return found


def _package_folders() -> list[str]:
    """Every folder packages are installed into: the Python roots and the site folders."""
    folders = set(python_roots()) | set(site.getsitepackages())
    user = site.getusersitepackages()
    folders |= {user} if isinstance(user, str) else set()
    return sorted(f for f in folders if os.path.isdir(f))


def _is_checkout(folder: Path) -> bool:
    """Whether ``folder`` is this project's source tree (a non-editable install's equivalent
    is site-packages itself, which holds every other package too)."""
    return (folder / "pyproject.toml").is_file() and (folder / "grader").is_dir()
