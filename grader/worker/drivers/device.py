"""Where and how student models run: the device choice, seeding, threads, clocks, out-of-memory.

This is the ONE place the CNN checks choose a device: ``cuda`` when the check
allows it and the sandbox sees a GPU (only a sandbox of a rubric with a check on
``cuda`` or ``any`` does), else the CPU. Timing on a GPU synchronises
before reading the clock, timing on the CPU counts CPU time (see :func:`clock`). On a GPU
the sandbox's share of its memory is capped (:func:`cap_gpu_memory`, the rubric's
``gpu_memory_mb``) before the student's model is built, and a CUDA out-of-memory error
becomes a ``MemoryError``, which the worker reports as a ``memory`` outcome rather than a
crash; the memory goes back to the device when the sandbox's process exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time

import numpy as np
import torch

# Bound before any student module is imported: code that rebinds time.process_time later does
# not slow this clock. (The budget is enforced by the grader's own measurement regardless.)
_CPU_CLOCK, _WALL_CLOCK = time.process_time, time.perf_counter
GPU_MEMORY_ENV = "GRADER_GPU_MEMORY_MB"  # set by the grader for a sandbox that may use a GPU


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


def name(device: torch.device) -> str:
    """The device's own name (``NVIDIA H100 80GB HBM3``), ``cpu`` for the CPU: what a GPU
    budget measured on one device is looked up by."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def describe(device: torch.device) -> str:
    """``cpu`` or ``cuda (NVIDIA H100 …)``, for the report."""
    return f"cuda ({name(device)})" if device.type == "cuda" else "cpu"


def training_budget(device: torch.device, device_name: str, config: dict) -> tuple[float, str]:
    """Seconds of training on ``device`` and where the number comes from: on a GPU whose
    name the grader sent a budget for (``cuda_budget_by_name``: a multiple of the
    reference's own training time measured on that GPU model), that (``reference``); else
    the rubric's budget for the device type (``rubric``)."""
    by_name = config.get("cuda_budget_by_name") or {}
    if device.type == "cuda" and device_name in by_name:
        return float(by_name[device_name]), "reference"
    return float(config["time_budget_s"][device.type]), "rubric"


def gpu_memory_cap_mb() -> int | None:
    """The sandbox's GPU memory cap (MiB) the grader set, if any."""
    value = os.environ.get(GPU_MEMORY_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def cap_gpu_memory(device: torch.device) -> int | None:
    """Hold PyTorch's CUDA allocator on ``device`` to the sandbox's cap (:func:`gpu_memory_cap_mb`)
    as a fraction of the device's memory, so that an allocation past it raises CUDA's
    out-of-memory error (a ``memory`` outcome) instead of taking what another sandbox on the
    same GPU needs; the cap in MiB, ``None`` on the CPU or without one. Called before the
    student's model is built. It binds the allocator, not the student: code that raises its
    own fraction gets the device's memory, and what it holds is freed when its sandbox exits."""
    cap = gpu_memory_cap_mb()
    if device.type != "cuda" or cap is None:
        return None
    total = torch.cuda.get_device_properties(device).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, (cap << 20) / total), device)
    return cap


@contextlib.contextmanager
def out_of_memory_as_memory_error(device: torch.device, cap_mb: int | None = None):
    """Turn an allocator failure (CUDA or CPU) into ``MemoryError``, the worker's ``memory``
    outcome (``cap_mb``: the sandbox's GPU memory cap, named in the message)."""
    cuda_oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    try:
        yield
    except cuda_oom as exc:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        cap = f" (this sandbox may hold {cap_mb} MiB of GPU memory)" if cap_mb else ""
        raise MemoryError(f"{device.type} out of memory{cap}: "
                          f"{str(exc).splitlines()[0][:300]}") from None
    except RuntimeError as exc:  # the CPU allocator's; CUDA's outside the caching allocator
        # (a context, cuBLAS's or cuDNN's handles on a full GPU)
        if any(words in str(exc) for words in ("can't allocate memory", "not enough memory",
                                               "CUDA error: out of memory", "_ALLOC_FAILED")):
            raise MemoryError(f"out of memory: {str(exc).splitlines()[0][:300]}") from None
        raise


def probe(policy: str, paths_json: str = "[]") -> str:
    """What this sandbox sees of a GPU, as JSON (``benchmarks/gpu_check.py``): which of the
    device files in ``paths_json`` it can open, the device :func:`pick_device` chooses for
    ``policy``, its name, and on a GPU a matrix product timed by :func:`clock` (synchronised)
    and without synchronising (the launch alone), in milliseconds. On the CPU no GPU call is
    made beyond ``is_available``."""
    opened = []
    for path in json.loads(paths_json):
        try:
            with open(path, "rb", buffering=0):
                opened.append(path)
        except OSError:
            continue
    device = pick_device(policy)
    found = {"opened": opened, "device": describe(device), "name": name(device),
             "cuda_available": device.type == "cuda"}
    if device.type == "cuda":
        found["memory_free_mb"], found["memory_total_mb"] = (  # before this probe takes any
            value >> 20 for value in torch.cuda.mem_get_info(device))
        a = torch.randn(8192, 8192, device=device)
        clock(device)  # warmed up, synchronised
        started = _WALL_CLOCK()
        b = a @ a
        launched = _WALL_CLOCK() - started
        found["unsynchronised_ms"] = round(1000 * launched, 3)
        found["synchronised_ms"] = round(1000 * (clock(device) - started), 3)
        found["checksum_finite"] = bool(torch.isfinite(b).all())
    return json.dumps(found)
