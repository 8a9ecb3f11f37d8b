"""Message framing between the trusted parent and the sandboxed worker.

A message is ``HEADER_LEN (8 bytes, big-endian) | PAYLOAD_LEN (8 bytes) |
header JSON | payload``. The payload is a sequence of ``.npy`` blobs whose
lengths the header lists under ``"arrays"``. An array of Python objects is refused
both ways: nothing that crosses the boundary can carry code. Arrays are written from
their own memory and read back as views of the buffer they arrived in: a large array
is copied only by the pipe.
Used by both sides, so it must import nothing but the standard library and numpy.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
from collections.abc import Sequence

import numpy as np

_PREFIX = struct.Struct(">QQ")
MAX_HEADER_BYTES = 4 << 20
_NPY_PREAMBLE = 10  # .npy 1.0: magic (6 bytes), version (2), header length (2, little-endian)


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


def frames(header: dict, arrays: Sequence[np.ndarray] = ()) -> list:
    """``header`` (JSON-serialisable) and ``arrays`` as one message: the buffers to write in
    order. An array's data is its own memory, not a copy (a C-ordered one is copied only if
    it is not already): a 6 MB image crosses with no copy on either side of the pipe.

    Raises
    ------
    ValueError
        For an array of Python objects (nothing that crosses the boundary can carry code).
    """
    parts = []
    for array in arrays:
        array = np.asarray(array)
        if array.dtype.hasobject:
            raise ValueError("an array of Python objects cannot cross the sandbox's boundary")
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        npy = io.BytesIO()
        np.lib.format.write_array_header_1_0(npy, np.lib.format.header_data_from_array_1_0(array))
        parts.append((npy.getvalue(), array.reshape(-1).view(np.uint8)))
    lengths = [len(npy_header) + data.nbytes for npy_header, data in parts]
    head = json.dumps({**header, "arrays": lengths}, allow_nan=True).encode()
    out: list = [_PREFIX.pack(len(head), sum(lengths)) + head]
    for npy_header, data in parts:
        out += [npy_header, data]
    return out


def encode(header: dict, arrays: Sequence[np.ndarray] = ()) -> bytes:
    """:func:`frames` joined into one bytes object (for small messages)."""
    return b"".join(bytes(part) for part in frames(header, arrays))


def decode(head: bytes, payload: bytes | bytearray | memoryview) -> tuple[dict, list[np.ndarray]]:
    """Parse a header and payload read off the wire; never unpickles. The arrays are views of
    ``payload`` where it is writable and each array's data is aligned (no copy), else copies."""
    try:
        header = json.loads(head)
        lengths = header.get("arrays", []) if isinstance(header, dict) else None
        if not isinstance(lengths, list) or not all(isinstance(n, int) and n >= 0 for n in lengths) \
                or sum(lengths) != len(payload):
            raise ProtocolError("array lengths do not add up to the payload")
        view, arrays, offset = memoryview(payload).cast("B"), [], 0
        for length in lengths:
            arrays.append(_array(view[offset : offset + length]))
            offset += length
    except ProtocolError:
        raise
    except Exception as exc:  # malformed JSON, npy header, dtype=object, truncated data
        raise ProtocolError(f"malformed message: {type(exc).__name__}: {exc}") from None
    return header, arrays


def _array(blob: memoryview) -> np.ndarray:
    """One ``.npy`` blob (format 1.0, as :func:`frames` writes) as an array over ``blob``."""
    start = io.BytesIO(bytes(blob[: _NPY_PREAMBLE]))
    if np.lib.format.read_magic(start) != (1, 0):
        raise ProtocolError("an array is not in .npy format 1.0")
    data_at = _NPY_PREAMBLE + int.from_bytes(blob[8:_NPY_PREAMBLE], "little")
    shape, fortran, dtype = _npy_header(bytes(blob[:data_at]))
    count = math.prod(shape)
    if dtype.hasobject:
        raise ProtocolError("an array of Python objects cannot cross the sandbox's boundary")
    if count * dtype.itemsize != len(blob) - data_at:
        raise ProtocolError("an array's data does not match its header")
    if count == 0 or dtype.itemsize == 0:
        return np.empty(shape, dtype)
    array = np.frombuffer(blob, dtype=dtype, count=count, offset=data_at)
    if not (array.flags.writeable and array.flags.aligned):
        array = array.copy()
    return array.reshape(shape, order="F" if fortran else "C")


def split_prefix(prefix: bytes, max_payload: int) -> tuple[int, int]:
    """Header and payload lengths from the 16-byte prefix, within the caps."""
    head_len, payload_len = _PREFIX.unpack(prefix)
    if head_len > MAX_HEADER_BYTES or payload_len > max_payload:
        raise ProtocolError(
            f"message too large ({head_len} header bytes, {payload_len} payload bytes)"
        )
    return head_len, payload_len


PREFIX_BYTES = _PREFIX.size


def _npy_header(head: bytes) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) of a ``.npy`` 1.0 header: the form numpy writes read by
    a pattern (numpy's own reader evaluates it as a Python literal: 80 µs), anything else
    by numpy's reader."""
    found = _NPY_DICT.fullmatch(head[_NPY_PREAMBLE:].rstrip(b" \n"))
    if found is None:
        stream = io.BytesIO(head)
        np.lib.format.read_magic(stream)
        return np.lib.format.read_array_header_1_0(stream)
    descr, fortran, shape = found.groups()
    dimensions = tuple(int(size) for size in shape.split(b",") if size.strip())
    return dimensions, fortran == b"True", np.dtype(descr.decode("ascii"))


_NPY_DICT = re.compile(rb"\{'descr': '([<>|=][a-zA-Z]\d*(?:\[\w+\])?)', "
                       rb"'fortran_order': (True|False), 'shape': \(((?:\d+, ?)*\d*)\), \}")


def read_exact(fd: int, count: int) -> bytearray:
    """Blocking read of exactly ``count`` bytes (worker side), straight into one buffer;
    EOFError at end of stream."""
    buffer = bytearray(count)
    view, got = memoryview(buffer), 0
    while got < count:
        read = os.readv(fd, [view[got:]])
        if not read:
            raise EOFError
        got += read
    return buffer


def write_all(fd: int, parts: Sequence) -> None:
    """Blocking write of every buffer of ``parts`` (:func:`frames`), in order."""
    for part in parts:
        view = memoryview(part).cast("B")
        while view:
            view = view[os.write(fd, view):]
