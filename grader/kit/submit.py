"""``grader submit``: hand a kit's folder in to the course's server, from the command line.

The folder is zipped in memory (the student's files: not the kit's own ``grader_kit/`` and
``wheels/``, virtual environments, caches or hidden files) and sent to
``SERVER/api/submit/ASSIGNMENT`` with the student's submit token in the ``Authorization``
header; the server checks it as it checks a browser upload and answers with a receipt. With
``wait``, the command then follows the upload until it is graded. Standard library only: the
kit installs nothing more for it.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from grader.errors import GraderError

TOKEN_ENV = "GRADER_SUBMIT_TOKEN"
SERVER_ENV = "GRADER_SERVER"
SKIPPED_FOLDERS = {"grader_kit", "wheels", "__pycache__", "node_modules", ".ipynb_checkpoints"}
MAX_BYTES = 50 << 20  # the server's cap on one upload
WAIT_POLL_S = 2.0
WAIT_MAX_S = 1800.0


def pack(folder: Path) -> bytes:
    """The student's files under ``folder`` as a zip (deterministic order)."""
    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _student_files(folder):
            total += path.stat().st_size
            if total > MAX_BYTES:
                raise GraderError(f"{folder} holds more than {MAX_BYTES >> 20} MiB of files: "
                                  "hand in your code, not data or models")
            archive.write(path, path.relative_to(folder).as_posix())
    if total == 0:
        raise GraderError(f"{folder} holds no files to hand in")
    return buffer.getvalue()


def _student_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_symlink():
            continue
        if path.is_dir():
            if path.name not in SKIPPED_FOLDERS and not (path / "pyvenv.cfg").exists():
                yield from _student_files(path)
        elif path.is_file():
            yield path


def submit(server: str, token: str, assignment: str, data: bytes,
           name: str = "submission.zip") -> dict[str, Any]:
    """POST ``data`` as the file ``name``; the server's receipt (JSON)."""
    boundary = secrets.token_hex(16)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/zip\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    return _ask(f"{server.rstrip('/')}/api/submit/{assignment}", token, body,
                {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def follow(server: str, token: str, upload: int, say: Callable[[dict[str, Any]], None],
           poll_s: float = WAIT_POLL_S, most_s: float = WAIT_MAX_S) -> dict[str, Any]:
    """Ask where ``upload`` stands until it is graded (or failed, or ``most_s`` passed),
    telling ``say`` each change; the last answer."""
    last: dict[str, Any] = {}
    ends = time.monotonic() + most_s
    while time.monotonic() < ends:
        now = _ask(f"{server.rstrip('/')}/api/uploads/{upload}", token)
        if (now["state"], now["ahead"]) != (last.get("state"), last.get("ahead")):
            say(now)
        last = now
        if now["state"] not in ("queued", "grading"):
            return now
        time.sleep(poll_s)
    return last


def token_and_server(token: str | None, server: str | None,
                     kit_server: str | None) -> tuple[str, str]:
    """The token (the flag, else ``GRADER_SUBMIT_TOKEN``) and the server (the flag, else
    ``GRADER_SERVER``, else the kit's), or one sentence saying what is missing."""
    token = token or os.environ.get(TOKEN_ENV)
    server = server or os.environ.get(SERVER_ENV) or kit_server
    if not token:
        raise GraderError(f"give your submit token: --token, or set {TOKEN_ENV} (make one on "
                          "your page of the course's server)")
    if not server:
        raise GraderError(f"give the course's server: --server URL, or set {SERVER_ENV}")
    return token, server


def _ask(url: str, token: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise GraderError(f"the server refused it: {_said(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise GraderError(f"could not reach {url.split('/api/')[0]} ({exc})") from None


def _said(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {error.code} {error.reason}"
