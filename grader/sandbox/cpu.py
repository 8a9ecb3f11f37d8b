"""Time limits in CPU time received, and running alone when a busy machine blurred them.

A check's time limit is a promise about the student's code, not about the machine: a
neighbour that starts a dozen busy processes must not time out an honest submission. So a
request's limit counts the CPU time the sandbox's processes *received* (:class:`CpuMeter`,
from the sandbox's cgroup to the nanosecond, else from ``/proc``): at the wall-clock limit,
a request that is still computing but has received less than its limit in CPU-seconds is
given more wall time, step by step, up to :data:`CpuMeter.WALL_CAP` times the limit. A
request that sleeps or blocks still ends at its limit; one that spins alone uses its limit
in CPU by then and ends there too.

A request that timed out while it got less than its fair share of a core (the machine was
oversubscribed: a neighbour, another grader, the grader's own work) is run again **alone**
(:class:`Alone`): every sandbox request of this user on this machine holds a shared lock
while it runs, and the re-run holds it exclusively, so it has the machine to itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator

from grader.sandbox import uids


class OverCpu(Exception):
    """The request used more CPU than its budget (or its processes kept running)."""


class CpuMeter:
    """CPU-seconds a sandbox received since a request began, and that request's deadline,
    which follows the CPU the sandbox gets.

    ``limit_s`` is a hard CPU budget (a training check's): over it the request ends.
    ``fair_s`` is what the wall-clock limit promises: at the deadline, while the sandbox is
    computing (at least ``MIN_SHARE`` of a core since the last look) but was crowded out (less
    than ``FAIR_SHARE`` of a core so far) and has received less than ``fair_s``, the deadline
    moves by ``STEP_S``, up to ``WALL_CAP`` times the limit.
    """

    MIN_SHARE = 0.05  # cores: below this the request is waiting, not computing
    WALL_CAP = 4.0  # the longest a busy request may run, in multiples of its wall-clock limit
    STEP_S = 1.0  # how far the deadline moves at a time
    FAIR_SHARE = 0.8  # of a core: a request that got less while computing was crowded out

    def __init__(self, read: Callable[[], float], fair_s: float, limit_s: float | None = None,
                 start: float | None = None):
        """``start``: the CPU-seconds counted so far, where the caller knows them without a
        fresh ``read`` (which may sweep ``/proc``)."""
        self._read, self._fair, self._limit = read, fair_s, limit_s
        self._start = read() if start is None else start
        self._began = time.perf_counter()
        self.extra_s = 0.0  # how far the deadline has moved
        self._sample = (self._began, 0.0)

    def used(self) -> float:
        return round(max(0.0, self._read() - self._start), 3)

    def check(self) -> None:
        if self._limit is not None and self.used() > self._limit:
            raise OverCpu(f"used more than {self._limit:.3g} CPU-seconds (its budget, as the "
                          "grader measured it)")

    def extend(self, timeout_s: float) -> bool:
        """At the deadline: move it by ``STEP_S`` if the sandbox computed since the last look
        and is still owed CPU (and within ``WALL_CAP``); say whether it moved. Owed: under a
        hard budget, any CPU-second left of it; else, what the limit promised, if it got less
        than ``FAIR_SHARE`` of a core (a spinner alone got its limit by then: no more time)."""
        now, used = time.perf_counter(), self.used()
        then, used_then = self._sample
        self._sample = (now, used)
        computing = (used - used_then) >= self.MIN_SHARE * max(now - then, 1e-3)
        if self._limit is not None:
            owed = used < self._limit
        else:
            owed = used < self._fair and used < self.FAIR_SHARE * (now - self._began)
        room = timeout_s + self.extra_s + self.STEP_S <= self.WALL_CAP * timeout_s
        if computing and owed and room:
            self.extra_s += self.STEP_S
            return True
        return False

    def crowded_out(self) -> bool:
        """Whether the request got less than a fair share of a core while it computed: a
        timeout then says more about the machine than about the code."""
        wall = time.perf_counter() - self._began
        used = self.used()
        computing = used >= self.MIN_SHARE * wall
        return computing and used < self.FAIR_SHARE * min(wall, self._fair)


class Alone:
    """A machine-wide lock of this user's sandboxes: each request holds it shared, a re-run
    holds it exclusively. A writer waiting at the turnstile stops new readers, so a re-run
    gets its turn as soon as the requests in flight end."""

    def __init__(self) -> None:
        folder = uids.lock_folder()
        self._turnstile = os.open(folder / "cpu-turnstile", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._lock = os.open(folder / "cpu-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.exclusive_now = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Held by every request while it runs (a re-run's own requests pass straight on)."""
        if self.exclusive_now:
            yield
            return
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        fcntl.flock(self._lock, fcntl.LOCK_SH)
        fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """The machine to this re-run alone (among this user's sandboxes)."""
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.exclusive_now = True
        try:
            yield
        finally:
            self.exclusive_now = False
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in (self._turnstile, self._lock):
            os.close(fd)
