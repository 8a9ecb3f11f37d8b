"""Course environments: the Python packages a rubric's student code runs with.

Real student code was written for the libraries of its semester: CS231n's ``layers.py``
files call ``np.lib.pad`` or ``np.reshape(a, newshape=...)``, which numpy 2 removed. A
rubric names the environment its student code runs in (``environment: numpy1``); the
definition lives in ``environments/NAME.yaml`` beside the assignment's folder (the course's
in ``assignments/environments/``) or inside it::

    name: numpy1
    description: numpy 1.26, the last numpy 1 (CS231n assignment 2, 2016-2024)
    requirements: ["numpy>=1.26,<2"]
    inherit_harness: false   # true: the harness's packages too (torch, ...), plus these

It is built once, as a virtual environment under :func:`envs_root`, in a folder named by the
hash of its definition and of this Python (so editing the requirements builds a new one and
never changes a built one); :func:`ensure` builds it when it is missing (``grader env
build``, or the first grading that needs it). The sandboxed worker then runs that
environment's interpreter under the same isolation; arrays still cross the boundary as
``.npy`` bytes, so the trusted side keeps its own numpy. Without ``environment:`` student
code runs in the harness's own interpreter.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.console import console
from grader.errors import GraderError

ENVS_ENV = "GRADER_ENVS"  # where built environments live (default ~/.cache/cv-course-grader-envs)
WHEELS_ENV = "GRADER_WHEELS"  # a folder of wheels: build offline from it
BUILT_MARKER = "grader-environment.json"  # written last: a folder without it is not built
BUILD_TIMEOUT_S = 1800


class CourseEnvironmentError(GraderError):
    """An environment cannot be found, read or built; the message says which and why."""


class EnvironmentSpec(BaseModel):
    """What defines a course environment (``assignments/environments/NAME.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str = ""
    requirements: list[str] = Field(min_length=1, description="pip requirement specifiers; "
                                    "numpy must be among them or inherited (the worker needs it)")
    inherit_harness: bool = Field(False, description="see the harness's installed packages "
                                  "too (torch, ...), after the environment's own")

    @property
    def key(self) -> str:
        """12 hex digits: the hash of the definition and of the Python that builds it."""
        text = json.dumps({**self.model_dump(exclude={"description"}),
                           "python": platform.python_version(), "base": sys.base_prefix,
                           "machine": platform.machine()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def folder(self) -> Path:
        return envs_root() / f"{self.name}-{self.key}"


@dataclass(frozen=True)
class BuiltEnvironment:
    """A built environment: its interpreter, its root folder and its packages' versions."""

    name: str
    python: Path  # <root>/bin/python
    root: Path
    packages: dict[str, str]  # name -> version, of the requirements (and numpy)

    def versions(self) -> dict[str, str]:
        """What a result records of the environment that graded it."""
        return {"environment": self.name, **self.packages}


def definitions_dir(folder: Path) -> Path:
    """Where the environments of the rubric in ``folder`` are defined: its own
    ``environments/``, else the one beside it (``assignments/environments/`` for the course's)."""
    own = folder / "environments"
    beside = folder.parent / "environments"
    return beside if not own.is_dir() and beside.is_dir() else own


def load(folder: Path, name: str) -> tuple[EnvironmentSpec, dict]:
    """The definition ``folder/NAME.yaml`` and its raw data (for the rubric's hash)."""
    path = folder / f"{name}.yaml"
    if Path(name).name != name or not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise CourseEnvironmentError(f"environment {name!r} is not defined: no {path} "
                                f"(defined: {', '.join(known) or 'none'})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = EnvironmentSpec.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise CourseEnvironmentError(f"{path}: not a valid environment definition ({_first(exc)})") \
            from None
    if spec.name != name:
        raise CourseEnvironmentError(f"{path}: its name is {spec.name!r}; the file must be named "
                                f"{spec.name}.yaml")
    return spec, data


def envs_root() -> Path:
    """The folder of built environments (``GRADER_ENVS``, else ``~/.cache/cv-course-grader-envs``).

    Not inside the grader's private state folder: the sandbox's uid must read it.
    """
    root = Path(os.environ.get(ENVS_ENV) or Path.home() / ".cache" / "cv-course-grader-envs")
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    return root


def built(spec: EnvironmentSpec) -> BuiltEnvironment | None:
    """The built environment of ``spec``, or ``None`` when it is not built yet."""
    try:
        marker = json.loads((spec.folder / BUILT_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return BuiltEnvironment(spec.name, spec.folder / "bin" / "python", spec.folder,
                            dict(marker.get("packages", {})))


def ensure(spec: EnvironmentSpec, wheels: Path | None = None) -> BuiltEnvironment:
    """The built environment of ``spec``, built first if it is missing.

    One build at a time per environment (a lock file): parallel graders wait for it and then
    use it. Building installs from the package index, or only from ``wheels`` (or the folder
    ``GRADER_WHEELS`` names) when one is given. A failed build leaves nothing behind.
    """
    found = built(spec)
    if found is not None:
        return found
    with _locked(spec):
        found = built(spec)
        if found is None:
            found = _build(spec, wheels or _wheels_from_environment())
    return found


@contextlib.contextmanager
def _locked(spec: EnvironmentSpec):
    with open(envs_root() / f".{spec.name}-{spec.key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _build(spec: EnvironmentSpec, wheels: Path | None) -> BuiltEnvironment:
    """Create the venv in a temporary folder, install, verify, then move it into place."""
    where = "from " + str(wheels) if wheels else "from the package index"
    console(stderr=True).print(f"building course environment {spec.name} "
                               f"({', '.join(spec.requirements)}) {where}, once, in {spec.folder}")
    staging = spec.folder.with_name(f".{spec.folder.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _run([sys.executable, "-m", "venv", "--without-pip", str(staging)], spec, "create")
        if spec.inherit_harness:
            _inherit_harness_packages(staging)
        _run(_pip_install(staging / "bin" / "python", spec.requirements, wheels), spec, "install")
        packages = _installed_versions(staging / "bin" / "python", spec)
        _open_to_others(staging)
        (staging / BUILT_MARKER).write_text(json.dumps(
            {"name": spec.name, "key": spec.key, "requirements": spec.requirements,
             "inherit_harness": spec.inherit_harness, "packages": packages}, indent=2))
        staging.rename(spec.folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuiltEnvironment(spec.name, spec.folder / "bin" / "python", spec.folder, packages)


def _inherit_harness_packages(venv: Path) -> None:
    """Put the harness's package folders on the venv's path (after its own), with a ``.pth``
    file: unlike ``--system-site-packages`` this works when the harness itself runs in a
    venv (Gradescope's image), and pip sees what is inherited as installed."""
    own = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    folders = dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib"))
    Path(own).mkdir(parents=True, exist_ok=True)
    (Path(own) / "_grader_harness_packages.pth").write_text("".join(f"{f}\n" for f in folders))


def _pip_install(python: Path, requirements: list[str], wheels: Path | None) -> list[str]:
    """The harness's pip, installing into the venv of ``python`` (no pip inside the venv)."""
    source = ["--no-index", "--find-links", str(wheels)] if wheels else []
    return [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
            "--no-input", "--disable-pip-version-check", *source, *requirements]


def _installed_versions(python: Path, spec: EnvironmentSpec) -> dict[str, str]:
    """The versions of the required packages (and numpy) as the new interpreter sees them."""
    names = sorted({_project_name(r) for r in spec.requirements} | {"numpy"})
    script = ("import importlib.metadata as m, json, sys, numpy\n"
              "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))")
    out = _run([str(python), "-I", "-c", script, *names], spec, "check")
    return json.loads(out.strip().splitlines()[-1])


def _project_name(requirement: str) -> str:
    """``numpy`` of ``numpy>=1.26,<2`` (and of ``numpy[extra] ; python_version<'4'``)."""
    name = requirement.split(";")[0]
    for stop in "<>=!~[ @":
        name = name.split(stop)[0]
    return name.strip()


def _run(argv: list[str], spec: EnvironmentSpec, step: str) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CourseEnvironmentError(f"building environment {spec.name}: {step} took over "
                                f"{BUILD_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        why = _reason(proc.stderr or proc.stdout)
        if step == "check" and "numpy" in why:
            why = "the interpreter cannot import numpy: add numpy to its requirements"
        raise CourseEnvironmentError(f"building environment {spec.name} failed at {step}: {why}")
    return proc.stdout


def _reason(output: str) -> str:
    """The line of pip's (or Python's) output that says what went wrong."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:"):
            return line.removeprefix("ERROR:").strip()
    errors = [line for line in lines if line.split(":")[0].endswith("Error")]
    return (errors or lines or ["no output"])[-1]


def _open_to_others(root: Path) -> None:
    """Readable (and folders enterable) by everyone: the sandbox runs under a uid of its own."""
    for folder, _, files in os.walk(root):
        os.chmod(folder, os.stat(folder).st_mode | 0o555)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)


def _wheels_from_environment() -> Path | None:
    value = os.environ.get(WHEELS_ENV)
    return Path(value) if value else None


def _first(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(map(str, error['loc'])) or 'top level'}: {error['msg']}"
    return str(exc).splitlines()[0]
