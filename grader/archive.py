"""Safe extraction of submission archives (``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``).

Every member is checked before a byte is written: no absolute path, no ``..``
escaping the target, no links or device files, at most :data:`MAX_FILES`
members and :data:`MAX_BYTES` uncompressed bytes — counted while writing, so
an archive that lies about its sizes (a zip bomb) is still stopped.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from grader.errors import SubmissionError

MAX_FILES = 2_000
MAX_BYTES = 200 << 20
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def archive_stem(path: Path) -> str:
    """``alice.tar.gz`` → ``alice``."""
    name = path.name
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def extract(archive: Path, target: Path) -> None:
    """Extract ``archive`` into the empty folder ``target``.

    Raises
    ------
    SubmissionError
        Naming the archive and the offending member or limit.
    """
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, target)
        else:
            _extract_tar(archive, target)
    except SubmissionError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise SubmissionError(f"{archive.name}: not a readable archive ({exc})") from None


def _extract_zip(archive: Path, target: Path) -> None:
    budget = _Budget(archive)
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        budget.count(len(members))
        for info in members:
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise SubmissionError(f"{archive.name}: member {info.filename!r} is a link; "
                                      "submissions may not contain links")
            destination = _safe_destination(archive, target, info.filename)
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            with bundle.open(info) as source:
                _copy_limited(source, destination, budget)


def _extract_tar(archive: Path, target: Path) -> None:
    budget = _Budget(archive)
    with tarfile.open(archive) as bundle:
        members = bundle.getmembers()
        budget.count(len(members))
        for member in members:
            destination = _safe_destination(archive, target, member.name)
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                source = bundle.extractfile(member)
                assert source is not None  # a regular member always has a file object
                with source:
                    _copy_limited(source, destination, budget)
            else:
                raise SubmissionError(f"{archive.name}: member {member.name!r} is a link or special "
                                      "file; submissions may contain only files and folders")


class _Budget:
    def __init__(self, archive: Path):
        self.archive, self.written = archive, 0

    def count(self, members: int) -> None:
        if members > MAX_FILES:
            raise SubmissionError(f"{self.archive.name}: {members} members, more than the "
                                  f"{MAX_FILES} a submission may hold")

    def spend(self, size: int) -> None:
        self.written += size
        if self.written > MAX_BYTES:
            raise SubmissionError(f"{self.archive.name}: expands to more than {MAX_BYTES >> 20} MiB "
                                  "(a zip bomb?); extraction stopped")


def _safe_destination(archive: Path, target: Path, name: str) -> Path:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise SubmissionError(f"{archive.name}: member {name!r} would be written outside the "
                              "submission folder; refusing the archive")
    destination = target.joinpath(*parts)
    destination.parent.mkdir(parents=True, exist_ok=True)
    return destination


def _walk_files(folder: Path, skip):
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            if not skip(entry):
                yield from _walk_files(entry, skip)
        elif not skip(entry):
            yield entry


def _copy_limited(source: IO[bytes], destination: Path, budget: _Budget) -> None:
    with destination.open("wb") as sink:
        while chunk := source.read(1 << 20):
            budget.spend(len(chunk))
            sink.write(chunk)


def copy_tree_safely(source: Path, target: Path, skip=lambda path: False) -> None:
    """Copy the regular files of a folder submission; links may not leave the folder.

    Folders for which ``skip(path)`` is true (virtual environments, caches) are not entered.
    """
    root = source.resolve()
    budget = _Budget(source)
    files = list(_walk_files(source, skip))
    budget.count(len(files))
    for path in files:
        resolved = path.resolve()
        if path.is_symlink() and not resolved.is_relative_to(root):
            raise SubmissionError(f"{source.name}: {path.relative_to(source)} is a link to "
                                  "outside the submission; refusing it")
        if not resolved.is_file():
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        budget.spend(resolved.stat().st_size)
        shutil.copyfile(resolved, destination)
