"""Offline wheelhouse for fresh-venv tests: repack installed distributions as wheels.

Tests must not use the network, yet a student kit has to be installed the way
students do it — ``pip install -r requirements.txt`` in a new virtual
environment. Every dependency the kit needs is already installed here, so each
installed distribution (and, recursively, what it requires) is zipped back
into a wheel: its files as listed in its RECORD, with a fresh RECORD.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def build(requirements: list[str], folder: Path, extras_env: dict | None = None) -> list[Path]:
    """Wheels for ``requirements`` and their dependencies (as installed here) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    pending = [Requirement(r) for r in requirements]
    built = []
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        dist = metadata.distribution(requirement.name)
        built.append(_repack(dist, folder))
        for text in dist.requires or []:
            child = Requirement(text)
            environment = {"extra": ""} | (extras_env or {})
            if child.marker is None or child.marker.evaluate(environment):
                pending.append(child)
    return built


def _repack(dist: metadata.Distribution, folder: Path) -> Path:
    info_dir = next(p for p in dist.files if p.parts[0].endswith(".dist-info")).parts[0]
    tags = [line.split(": ", 1)[1].split("-") for line in dist.read_text("WHEEL").splitlines()
            if line.startswith("Tag: ")]
    tag = "-".join(".".join(sorted({t[i] for t in tags})) for i in range(3))  # e.g. py2.py3-none-any
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    target = folder / f"{name}-{dist.version}-{tag}.whl"
    records = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for path in dist.files:
            if ".." in path.parts or path.name == "RECORD" or path.suffix == ".pyc":
                continue
            source = Path(dist.locate_file(path))
            if not source.is_file():
                continue
            data = source.read_bytes()
            wheel.writestr(path.as_posix(), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            records.append(f"{path.as_posix()},sha256={digest.decode()},{len(data)}")
        records.append(f"{info_dir}/RECORD,,")
        wheel.writestr(f"{info_dir}/RECORD", "\n".join(records) + "\n")
    return target
