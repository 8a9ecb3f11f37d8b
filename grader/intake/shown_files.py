"""The files of a submission that a manual item shows its grader (a PDF write-up, images the
student saved, the code), read on the trusted side and kept in the gradebook with the result.

Only regular files inside the submission are read (never through a link), each at most
:data:`MAX_FILE_BYTES` and all at most :data:`MAX_TOTAL_BYTES`; what is left out is named in a
note, so a grader knows the page is not the whole submission.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from grader.errors import size_text
from grader.rubric.model import ManualItem

MAX_FILE_BYTES = 10 << 20
MAX_TOTAL_BYTES = 25 << 20


def collect(root: Path, modules: dict[str, Path],
            items: list[ManualItem]) -> tuple[dict[str, bytes], list[str]]:
    """``{path relative to root: bytes}`` of the files ``items`` show, and notes on any left out."""
    wanted = [glob for item in items for glob in item.files()]
    names = {str(path.relative_to(root)) for module in {m for i in items for m in i.modules()}
             if (path := modules.get(module)) is not None}
    if wanted:
        names |= {str(path.relative_to(root)) for path in root.rglob("*")
                  if matches(str(path.relative_to(root)), wanted)}
    files: dict[str, bytes] = {}
    notes, total = [], 0
    for name in sorted(names):
        path = root / name
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        if size > MAX_FILE_BYTES or total + size > MAX_TOTAL_BYTES:
            notes.append(f"{name} ({size_text(size)}) is not kept for manual grading: over the "
                         f"{size_text(MAX_FILE_BYTES)} per file / {size_text(MAX_TOTAL_BYTES)} "
                         "in all")
            continue
        files[name] = path.read_bytes()
        total += size
    return files, notes


def matches(name: str, globs: list[str]) -> bool:
    """Whether the submission's file ``name`` (a path relative to its root) is one ``globs``
    name: matched against the path, or against the file's own name (``*.pdf`` finds
    ``report/writeup.pdf``)."""
    return any(fnmatch.fnmatch(name, g) or fnmatch.fnmatch(name.rsplit("/", 1)[-1], g)
               for g in globs)
