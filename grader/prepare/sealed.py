"""Files of the grader's state that carry a MAC, so a changed byte is noticed, never trusted.

The expected-output cache and the decoded course datasets are written by the grader and
read back by later runs. Each file gets a companion ``.mac``: HMAC-SHA256 under a key kept
in the grader's private state folder (mode 0600, never inside a sandbox), over the file's
name and bytes. :func:`read` returns ``None`` for a missing, changed, swapped or unsigned
file, and the caller recomputes it: a student who could write there (a machine with no
isolation layer) can make the grader work again, not grade against forged answers.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from grader import datapath

_KEY_BYTES = 32


def write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and its MAC beside it (each atomically, by rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path.with_name(path.name + ".mac"), _mac(path.name, data).encode())
    _replace(path, data)


def read(path: Path) -> bytes | None:
    """The bytes of ``path`` if its MAC verifies; ``None`` otherwise."""
    try:
        data = path.read_bytes()
        mac = path.with_name(path.name + ".mac").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return data if hmac.compare_digest(mac, _mac(path.name, data)) else None


def _mac(name: str, data: bytes) -> str:
    return hmac.new(_key(), name.encode() + b"\0" + data, hashlib.sha256).hexdigest()


def _key() -> bytes:
    path = datapath.state_root() / "sealing.key"
    try:
        key = path.read_bytes()
        if len(key) == _KEY_BYTES:
            return key
    except OSError:
        pass
    key = secrets.token_bytes(_KEY_BYTES)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    try:
        os.link(temporary, path)  # the first writer wins; every process then reads its key
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_bytes()


def _replace(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    temporary.write_bytes(data)
    temporary.replace(path)
