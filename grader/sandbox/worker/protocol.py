"""Message framing between the trusted parent and the sandboxed worker.

A message is ``HEADER_LEN (8 bytes, big-endian) | PAYLOAD_LEN (8 bytes) |
header JSON | payload``. The payload is a sequence of ``.npy`` blobs whose
lengths the header lists under ``"arrays"``. Arrays are read back with
``allow_pickle=False``: nothing that crosses the boundary can carry code.
Used by both sides, so it must import nothing but the standard library and numpy.
"""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Sequence

import numpy as np

_PREFIX = struct.Struct(">QQ")
MAX_HEADER_BYTES = 4 << 20


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


def encode(header: dict, arrays: Sequence[np.ndarray] = ()) -> bytes:
    """Frame ``header`` (JSON-serialisable) and ``arrays`` as one message."""
    blobs = []
    for array in arrays:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.asarray(array).copy(order="C"), allow_pickle=False)
        blobs.append(buffer.getvalue())
    header = {**header, "arrays": [len(b) for b in blobs]}
    head = json.dumps(header, allow_nan=True).encode()
    return _PREFIX.pack(len(head), sum(map(len, blobs))) + head + b"".join(blobs)


def decode(head: bytes, payload: bytes) -> tuple[dict, list[np.ndarray]]:
    """Parse a header and payload read off the wire; never unpickles."""
    try:
        header = json.loads(head)
        lengths = header.get("arrays", [])
        if not isinstance(header, dict) or sum(lengths) != len(payload):
            raise ProtocolError("array lengths do not add up to the payload")
        arrays, offset = [], 0
        for length in lengths:
            blob = io.BytesIO(payload[offset : offset + length])
            arrays.append(np.lib.format.read_array(blob, allow_pickle=False))
            offset += length
    except ProtocolError:
        raise
    except Exception as exc:  # malformed JSON, npy header, dtype=object, truncated data
        raise ProtocolError(f"malformed message: {type(exc).__name__}: {exc}") from None
    return header, arrays


def split_prefix(prefix: bytes, max_payload: int) -> tuple[int, int]:
    """Header and payload lengths from the 16-byte prefix, within the caps."""
    head_len, payload_len = _PREFIX.unpack(prefix)
    if head_len > MAX_HEADER_BYTES or payload_len > max_payload:
        raise ProtocolError(
            f"message too large ({head_len} header bytes, {payload_len} payload bytes)"
        )
    return head_len, payload_len


PREFIX_BYTES = _PREFIX.size


def read_exact(fd: int, count: int) -> bytes:
    """Blocking read of exactly ``count`` bytes (worker side); EOFError at end of stream."""
    chunks, remaining = [], count
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
