"""Safe extraction of submission archives (``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``).

Every member is checked before a byte is written: no absolute path, no ``..``
escaping the target, no links or device files, at most :data:`MAX_FILES`
members (files and folders) nested at most :data:`MAX_DEPTH` folders deep, and
at most :data:`MAX_BYTES` uncompressed bytes — counted while writing, so an
archive that lies about its sizes (a zip bomb) is still stopped.

The archive is untrusted, so nothing here does work that grows faster than what the caps
allow, and nothing waits for the end of the archive to apply them: the archive's own size
is checked first; a zip's central directory (which :mod:`zipfile` parses whole before a
member can be counted) is measured from its end record before it is parsed; a tar is read
as a stream, member by member, through a reader that stops the decompression at the caps
(a ``.tar.gz`` of a few MiB can expand to terabytes, and ``tarfile`` would read all of it
to list the members). A folder is walked the same way, without recursion, stopping at the
caps.
"""

from __future__ import annotations

import bz2
import gzip
import io
import itertools
import lzma
import os
import shutil
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from grader.errors import SubmissionError, size_text

MAX_FILES = 2_000  # members (files and folders) of one submission
MAX_BYTES = 200 << 20  # bytes of one submission: its archive, and its files once extracted
MAX_DEPTH = 32  # folders a member may be nested in
HEADER_BYTES = 16 << 10  # bytes a tar may spend on each member's headers (names, pax records)
DIRECTORY_ENTRY_BYTES = 1 << 10  # bytes a zip's central directory may spend on each member
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
    budget = _Budget(archive)
    budget.check_size(archive.stat().st_size)
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, target, budget)
        else:
            _extract_tar(archive, target, budget)
    except SubmissionError:
        raise
    except _UNREADABLE as exc:
        raise SubmissionError(f"{archive.name}: not a readable archive "
                              f"({str(exc)[:200]})") from None


def copy_tree_safely(source: Path, target: Path, skip: Callable[[Path], bool] = lambda path: False
                     ) -> None:
    """Copy the regular files of a folder submission; links may not leave the folder.

    Folders for which ``skip(path)`` is true (virtual environments, caches) are not entered.
    """
    root = source.resolve()
    budget = _Budget(source)
    for path in _walk_files(source, skip, budget):
        resolved = path.resolve()
        if path.is_symlink() and not resolved.is_relative_to(root):
            where = _shown(path.relative_to(source).as_posix())
            raise SubmissionError(f"{source.name}: {where} is a link to outside the submission; "
                                  "refusing it")
        if not resolved.is_file():
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        budget.spend(resolved.stat().st_size)
        shutil.copyfile(resolved, destination)


def copy_file_safely(source: Path, destination: Path) -> None:
    """Copy a one-file submission (a ``.py`` or a notebook) within :data:`MAX_BYTES`."""
    _Budget(source).check_size(source.stat().st_size)
    shutil.copyfile(source, destination)


def _extract_zip(archive: Path, target: Path, budget: _Budget) -> None:
    budget.spend_directory(_central_directory_bytes(archive))
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        budget.count(len(members))
        for info in members:
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise SubmissionError(f"{archive.name}: member {_shown(info.filename)} is a link; "
                                      "submissions may not contain links")
            destination = _safe_destination(archive, target, info.filename)
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            budget.expect(info.file_size)
            with bundle.open(info) as source:
                _copy_limited(source, destination, budget)


def _extract_tar(archive: Path, target: Path, budget: _Budget) -> None:
    with _decompressed(archive, budget) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as bundle:
        for member in bundle:
            budget.add_member()
            destination = _safe_destination(archive, target, member.name)
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                budget.expect(member.size)
                source = bundle.extractfile(member)
                assert source is not None  # a regular member always has a file object
                with source:
                    _copy_limited(source, destination, budget)
            else:
                raise SubmissionError(f"{archive.name}: member {_shown(member.name)} is a link or "
                                      "special file; submissions may contain only files and "
                                      "folders")


class _Budget:
    """What one submission may still spend: members (:data:`MAX_FILES`) and bytes
    (:data:`MAX_BYTES`); each overdraft is a :class:`SubmissionError` naming the submission."""

    def __init__(self, archive: Path):
        self.archive, self.written, self.members = archive, 0, 0

    def count(self, members: int) -> None:
        """All the members at once (a zip's listing)."""
        if members > MAX_FILES:
            raise SubmissionError(f"{self.archive.name}: {members} members, more than the "
                                  f"{MAX_FILES} a submission may hold")

    def add_member(self) -> None:
        """One more member (a tar's or a folder's, met one at a time)."""
        self.members += 1
        if self.members > MAX_FILES:
            raise SubmissionError(f"{self.archive.name}: more than the {MAX_FILES} members "
                                  "(files and folders) a submission may hold")

    def check_size(self, size: int) -> None:
        """The archive or one-file submission itself (``size`` bytes on disk)."""
        if size > MAX_BYTES:
            raise SubmissionError(f"{self.archive.name}: {size_text(size)}, more than the "
                                  f"{size_text(MAX_BYTES)} a submission may hold")

    def spend_directory(self, size: int) -> None:
        """A zip's central directory of ``size`` bytes, before it is parsed."""
        if size > MAX_FILES * DIRECTORY_ENTRY_BYTES:
            raise SubmissionError(f"{self.archive.name}: its list of members takes "
                                  f"{size_text(size)}, more than {MAX_FILES} members "
                                  "could need; refusing it before reading it")

    def expect(self, size: int) -> None:
        """A member that says it holds ``size`` bytes: refused before it is read if that is
        more than what is left (the count while writing still holds a member that lies)."""
        if self.written + size > MAX_BYTES:
            self.overdrawn()

    def spend(self, size: int) -> None:
        self.written += size
        if self.written > MAX_BYTES:
            self.overdrawn()

    def stream_cap(self) -> int:
        """Bytes a tar stream may decompress to: the members and their headers."""
        return MAX_BYTES + (MAX_FILES + 1) * HEADER_BYTES

    def overdrawn(self) -> None:
        raise SubmissionError(f"{self.archive.name}: expands to more than {size_text(MAX_BYTES)} "
                              "(a zip bomb?); extraction stopped")


class _CappedReader(io.RawIOBase):
    """A binary stream that raises the budget's zip-bomb error past ``cap`` bytes read."""

    def __init__(self, stream: io.BufferedIOBase, cap: int, budget: _Budget):
        super().__init__()
        self._stream, self._left, self._budget = stream, cap, budget

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(self._left + 1 if size < 0 else min(size, self._left + 1))
        self._left -= len(chunk)
        if self._left < 0:
            self._budget.overdrawn()
        return chunk

    def close(self) -> None:
        self._stream.close()
        super().close()


_DECOMPRESSORS: dict[bytes, Callable[[Path], io.BufferedIOBase]] = {
    b"\x1f\x8b": lambda path: gzip.open(path, "rb"),
    b"BZh": lambda path: bz2.open(path, "rb"),
    b"\xfd7zXZ\x00": lambda path: lzma.open(path, "rb"),
}


def _decompressed(archive: Path, budget: _Budget) -> _CappedReader:
    """The tar inside ``archive`` (gzip, bzip2, xz or none, told by its first bytes, as
    ``tarfile`` would), capped at :meth:`_Budget.stream_cap` bytes."""
    with archive.open("rb") as handle:
        magic = handle.read(6)
    opener = next((open_ for prefix, open_ in _DECOMPRESSORS.items() if magic.startswith(prefix)),
                  lambda path: path.open("rb"))
    return _CappedReader(opener(archive), budget.stream_cap(), budget)


# what a damaged or hostile archive makes the readers raise (zipfile: NotImplementedError for
# an unknown compression method, RuntimeError for an encrypted member, struct.error)
_UNREADABLE = (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError, RuntimeError,
               NotImplementedError, struct.error, zlib.error, lzma.LZMAError)

_END = struct.Struct("<4s4H2LH")  # zip end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")


def _central_directory_bytes(archive: Path) -> int:
    """The size in bytes of a zip's central directory, as its end record (the zip64 one where
    there is one, as :mod:`zipfile` reads them) says; 0 where there is none (:mod:`zipfile`
    then says the archive is not readable)."""
    with archive.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        start = max(0, size - _END.size - 0xFFFF)  # the record, then a comment of <= 64 KiB
        handle.seek(start)
        tail = handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _END.size:
            return 0
        directory: int = _END.unpack_from(tail, at)[5]
        locator = at - _ZIP64_LOCATOR.size
        if locator >= 0 and tail.startswith(b"PK\x06\x07", locator):
            handle.seek(_ZIP64_LOCATOR.unpack_from(tail, locator)[2])
            record = handle.read(_ZIP64_END.size)
            if len(record) == _ZIP64_END.size and record.startswith(b"PK\x06\x06"):
                directory = max(directory, _ZIP64_END.unpack(record)[8])
        return directory


def _safe_destination(archive: Path, target: Path, name: str) -> Path:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise SubmissionError(f"{archive.name}: member {_shown(name)} would be written outside "
                              "the submission folder; refusing the archive")
    if len(parts) > MAX_DEPTH:
        raise SubmissionError(f"{archive.name}: member {_shown(name)} is nested {len(parts)} "
                              f"folders deep, more than the {MAX_DEPTH} a submission may use")
    destination = target.joinpath(*parts)
    destination.parent.mkdir(parents=True, exist_ok=True)
    return destination


def _walk_files(folder: Path, skip: Callable[[Path], bool], budget: _Budget) -> Iterator[Path]:
    """The entries under ``folder`` that are not folders, in name order, not entering what
    ``skip`` names; each entry (folders too) is one member of ``budget``. No recursion (a
    folder may be nested thousands deep) and no listing of more than :data:`MAX_FILES` names
    (a folder may hold millions)."""
    stack = [(folder, 0)]
    while stack:
        current, depth = stack.pop()
        entries = [current / name for name in _listing(folder, current)
                   if not skip(current / name)]
        if entries and depth >= MAX_DEPTH:
            where = _shown(entries[0].relative_to(folder).as_posix())
            raise SubmissionError(f"{folder.name}: {where} is nested more than {MAX_DEPTH} "
                                  "folders deep")
        folders = []
        for entry in entries:
            budget.add_member()
            if entry.is_dir() and not entry.is_symlink():
                folders.append(entry)
            else:
                yield entry
        stack += [(f, depth + 1) for f in reversed(folders)]


def _listing(folder: Path, current: Path) -> list[str]:
    """The names in ``current`` (a folder of the submission ``folder``), sorted."""
    with os.scandir(current) as listing:
        names = [entry.name for entry in itertools.islice(listing, MAX_FILES + 1)]
    if len(names) > MAX_FILES:
        where = current.relative_to(folder).as_posix()
        which = "the folder" if where == "." else _shown(where)
        raise SubmissionError(f"{folder.name}: {which} holds more than the {MAX_FILES} entries a "
                              "submission may have")
    return sorted(names)


def _copy_limited(source: IO[bytes], destination: Path, budget: _Budget) -> None:
    with destination.open("wb") as sink:
        while chunk := source.read(1 << 20):
            budget.spend(len(chunk))
            sink.write(chunk)


def _shown(name: str, limit: int = 80) -> str:
    """``name`` quoted for a message, cut to ``limit`` characters (names can be huge)."""
    return repr(name if len(name) <= limit else name[:limit] + "…")
