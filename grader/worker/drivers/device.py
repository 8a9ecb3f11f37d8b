"""Where and how student models run: the device choice, seeding, threads, clocks, out-of-memory.

This is the ONE place the CNN checks choose a device: ``cuda`` when the check
allows it and the machine has one, else the CPU. Timing on a GPU synchronises
before reading the clock, timing on the CPU counts CPU time (see :func:`clock`); a CUDA out-of-memory error becomes a ``MemoryError``,
which the worker reports as a ``memory`` outcome rather than a crash.
"""

from __future__ import annotations

import contextlib
import os
import random
import time

import numpy as np
import torch

# Bound before any student module is imported: code that rebinds time.process_time later does
# not slow this clock. (The budget is enforced by the grader's own measurement regardless.)
_CPU_CLOCK, _WALL_CLOCK = time.process_time, time.perf_counter


def pick_device(policy: str) -> torch.device:
    """``cuda`` if ``policy`` is ``"cuda"`` or ``"any"`` and a GPU is visible, else ``cpu``."""
    if policy in ("cuda", "any") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch (CPU and CUDA); return a CPU generator for batch order."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def set_threads(max_threads: int) -> int:
    """Use the CPU threads this worker may (its batch share ``GRADER_THREADS``), at most ``max_threads``.

    The thread count does not change how much training a student gets: the
    CPU budget counts the CPU time of all threads together (:func:`clock`).
    """
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    available = min(available, int(os.environ.get("GRADER_THREADS", available)))  # batch share
    threads = max(1, min(available, max_threads))
    torch.set_num_threads(threads)
    return threads


def clock(device: torch.device) -> float:
    """Seconds of training time: GPU wall time after a synchronise, or CPU time of all threads.

    On a GPU the clock is the wall clock, read once the device has finished its
    queued work. On the CPU it is this process's CPU time, all threads
    together: other processes (parallel grading workers, other users) cannot
    eat into it, and a worker given one thread in a parallel batch trains as
    much as one given every core alone, so a budget buys every student the
    same amount of computation.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return _WALL_CLOCK()
    return _CPU_CLOCK()


def describe(device: torch.device) -> str:
    """``cpu`` or ``cuda (NVIDIA H100 …)``, for the report."""
    return f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "cpu"


@contextlib.contextmanager
def out_of_memory_as_memory_error(device: torch.device):
    """Turn an allocator failure (CUDA or CPU) into ``MemoryError``, the worker's ``memory`` outcome."""
    cuda_oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    try:
        yield
    except cuda_oom as exc:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        raise MemoryError(f"{device.type} out of memory: {str(exc).splitlines()[0][:300]}") from None
    except RuntimeError as exc:
        if "can't allocate memory" in str(exc) or "not enough memory" in str(exc):
            raise MemoryError(f"out of memory: {str(exc).splitlines()[0][:300]}") from None
        raise
