"""A deterministic wheel of the harness *without* the answer key, for student kits.

The wheel holds the ``grader`` package only — never ``reference/``, nor the
audit (``grader/audit/``: instructor tooling that mutates the answer key) — and is
built here with :mod:`zipfile` (no build backend, fixed timestamps, sorted
members), so the same source gives the same bytes. Installing it gives the
``grader`` command and the pytest plugin.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import grader

NAME = "cv_course_grader_kit"
DIST = "cv-course-grader-kit"
REQUIRES = ["numpy>=1.26", "pyyaml>=6", "jinja2>=3.1", "pydantic>=2.6", "click>=8.1", "rich>=13"]
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_PARTS = {"__pycache__"}
# instructor tooling that needs the answer key (and names hidden checks): not in a kit
_INSTRUCTOR_ONLY = ("grader/audit/", "grader/reference_gpu.py")  # they need the answer key


def wheel_name() -> str:
    return f"{NAME}-{grader.__version__}-py3-none-any.whl"


def build(folder: Path) -> Path:
    """Write the kit wheel into ``folder``; return its path."""
    package = Path(grader.__file__).resolve().parent
    files = {f"grader/{p.relative_to(package).as_posix()}": p.read_bytes()
             for p in sorted(package.rglob("*"))
             if p.is_file() and not _SKIP_PARTS & set(p.parts) and p.suffix != ".pyc"}
    files = {name: data for name, data in files.items() if not name.startswith(_INSTRUCTOR_ONLY)}
    info = f"{NAME}-{grader.__version__}.dist-info"
    files[f"{info}/METADATA"] = _metadata().encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: cv-course-grader kit\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/entry_points.txt"] = (b"[console_scripts]\ngrader = grader.cli:main\n\n"
                                         b"[pytest11]\ngrader_kit = grader.kit.pytest_plugin\n")
    record = "".join(f"{name},sha256={_digest(data)},{len(data)}\n" for name, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = folder / wheel_name()
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            bundle.writestr(entry, data)
    return path


def _metadata() -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {DIST}", f"Version: {grader.__version__}",
             "Summary: The course's grading harness for student self-checks (no answer key)",
             "Requires-Python: >=3.11", *(f"Requires-Dist: {r}" for r in REQUIRES)]
    return "\n".join(lines) + "\n"


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
