"""The grader's ends of a worker's pipes: requests in, replies out, its output, its control.

Nothing here ever blocks: every read and write waits in ``select`` under the request's
deadline, draining the worker's output (stdout and stderr, one pipe) into a
:class:`~grader.sandbox.capture.Capture` meanwhile, and between two looks lets the session
measure the sandbox (:class:`Waiting`). A reply is read under the protocol's caps
(:mod:`grader.worker.protocol`): exactly one, answering the request that was sent.
"""

from __future__ import annotations

import fcntl
import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from grader.sandbox.capture import Capture
from grader.worker import protocol

WATCH_S = 0.25  # how often the parent measures the tree's memory and scratch while it waits
PIPE_BYTES = 1 << 20  # the request and reply pipes' buffers (Linux's pipe-max-size default)


class Deadline(Exception):
    """The request's time ran out (and the CPU meter did not extend it)."""


class WorkerGone(Exception):
    """The worker closed its end of a pipe: it exited or was killed."""


@dataclass(frozen=True)
class Waiting:
    """How a wait is paced: the seconds the deadline has been extended by, whether it may be
    extended once more when it runs out, and what to do between two looks (the session
    measures the sandbox; it raises to end the wait)."""

    extra_s: Callable[[], float]
    extend: Callable[[], bool]
    meanwhile: Callable[[], None]


class Channel:
    """A worker's four pipes. :attr:`worker_ends` (request, reply, control, output) go to the
    worker and are closed here with :meth:`release_worker_ends` once it holds them."""

    def __init__(self) -> None:
        request_r, self.request_w = os.pipe()
        self.reply_r, reply_w = os.pipe()
        for pipe in (self.request_w, self.reply_r):
            _widen(pipe)
        self.out_r, out_w = os.pipe()
        control_r, self.control_w = os.pipe()
        self.worker_ends = [request_r, reply_w, control_r, out_w]
        self._out_open = False

    def release_worker_ends(self) -> None:
        for fd in self.worker_ends:
            os.close(fd)

    def open(self) -> None:
        """The worker started: from now on nothing blocks, and its output is read."""
        for fd in (self.request_w, self.reply_r, self.out_r):
            os.set_blocking(fd, False)
        self._out_open = True

    def hang_up(self) -> None:
        """Close the control pipe: the supervisor kills its tree and exits."""
        os.close(self.control_w)

    def close(self) -> None:
        """Close the grader's other ends (after :meth:`hang_up`)."""
        for fd in (self.request_w, self.reply_r, self.out_r):
            os.close(fd)

    def close_all(self) -> None:
        """Close every end of the grader's (a start that failed)."""
        self.hang_up()
        self.close()

    def send(self, parts: list, deadline: float, capture: Capture, waiting: Waiting) -> None:
        """Write a message's buffers (``protocol.frames``) without ever blocking: a worker
        that stops reading (or shrinks the pipe) runs into the deadline; one that writes
        before it has read is a violation."""
        for part in parts:
            view = memoryview(part).cast("B")
            while view:
                if not self._wait([self.request_w], deadline, capture, waiting):
                    early = read_some(self.reply_r)
                    if early == b"":
                        raise WorkerGone
                    if early:
                        raise protocol.ProtocolError("the worker replied before reading its request")
                    continue
                try:
                    view = view[os.write(self.request_w, view):]
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    raise WorkerGone from None

    def receive(self, deadline: float, capture: Capture, waiting: Waiting, max_payload: int,
                request_id: str | None = None) -> tuple[dict, list[np.ndarray]]:
        """Read exactly one reply of at most ``max_payload`` bytes; it must answer
        ``request_id`` and be alone. Its arrays are read straight into one buffer and decoded
        as views of it."""
        prefix = self._read_into(bytearray(protocol.PREFIX_BYTES), deadline, capture, waiting)
        head_len, payload_len = protocol.split_prefix(bytes(prefix), max_payload)
        body = self._read_into(bytearray(head_len + payload_len), deadline, capture, waiting)
        if read_some(self.reply_r, 1):
            raise protocol.ProtocolError("the worker sent more than one reply")
        header, arrays = protocol.decode(bytes(body[:head_len]), memoryview(body)[head_len:])
        if request_id is not None and header.get("id") != request_id:
            raise protocol.ProtocolError("the worker answered a request it was not sent")
        return header, arrays

    def drain(self, capture: Capture) -> None:
        """Whatever output is waiting in the pipe, into ``capture``."""
        while chunk := read_some(self.out_r):
            capture.write(chunk)

    def _read_into(self, buffer: bytearray, deadline: float, capture: Capture,
                   waiting: Waiting) -> bytearray:
        """Fill ``buffer`` from the reply pipe, waiting as :meth:`_wait` does."""
        view, got = memoryview(buffer), 0
        while got < len(buffer):
            self._wait([], deadline, capture, waiting)
            try:
                read = os.readv(self.reply_r, [view[got:]])
            except BlockingIOError:
                continue
            if read == 0:
                raise WorkerGone
            got += read
        return buffer

    def _wait(self, writers: list[int], deadline: float, capture: Capture,
              waiting: Waiting) -> list[int]:
        """Block until the reply pipe is readable or ``writers`` writable; drain output meanwhile."""
        while True:
            remaining = deadline + waiting.extra_s() - time.perf_counter()
            if remaining <= 0:
                if waiting.extend():
                    continue
                raise Deadline
            readers = [self.reply_r] + ([self.out_r] if self._out_open else [])
            readable, writable, _ = select.select(readers, writers, [], min(remaining, WATCH_S))
            if self.out_r in readable:
                chunk = read_some(self.out_r)
                if chunk:
                    capture.write(chunk)
                    continue
                self._out_open = chunk is None
            if self.reply_r in readable or writable:
                return writable
            waiting.meanwhile()


def _widen(pipe: int) -> None:
    """Give a pipe :data:`PIPE_BYTES` of buffer: an image of 6 MB crosses in 1.9 ms instead
    of 7.4 with Linux's default 64 KiB (a wake-up of each side every 64 KiB). Where the
    system allows less (``/proc/sys/fs/pipe-max-size``), the pipe keeps what it has. (An
    ordinary user's pipes share 64 MiB, ``pipe-user-pages-soft``, before new ones get small
    buffers: 32 sandboxes at once; root's are not counted.)"""
    try:
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass


def read_some(fd: int, most: int = 1 << 20) -> bytes | None:
    """Up to ``most`` bytes (1 MiB at most) from a non-blocking pipe: bytes, ``b""`` at end of
    stream, ``None`` if nothing is there yet."""
    try:
        return os.read(fd, min(most, 1 << 20))
    except BlockingIOError:
        return None


