"""The reference's own training time on each GPU model, measured on this machine.

A GPU budget of a fixed number of seconds buys very different amounts of training on a
laptop's GPU and on an H100. A ``training`` check whose ``time_budget_s`` sets
``cuda_scale`` gives instead ``cuda_scale`` times what the reference solution's own training
took on the same GPU model: measured once per machine and GPU model (the reference graded
as if it were a student, in the sandbox, on that GPU: :mod:`grader.reference_gpu`, which
``benchmarks/gpu_check.py`` runs) and recorded here, in the grader's private state folder.
Scoring reads the record; it never runs the reference (a Gradescope bundle holds none).

Records are keyed by the check's training case (:func:`case_key`: the check's target, its
options that shape the training, the training data's bytes) and then by the GPU's name as
``torch.cuda.get_device_name`` gives it: the sandbox looks its own GPU up by that name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader import datapath

FILE = "gpu-reference-times.json"


@dataclass(frozen=True)
class Measured:
    """The reference's training on one GPU model: its seconds for its whole run (its own
    ``n_epochs``; extrapolated per epoch when its timeout cut it short), the epochs it ran,
    when, with which torch, and a digest of the reference's source."""

    seconds: float
    epochs: float
    measured_at: str
    torch: str = ""
    reference_digest: str = ""


def case_key(target: str, options: dict[str, Any], arrays: Sequence[tuple[str, np.ndarray]]) -> str:
    """The key of one training case: the check's ``target``, its ``options`` but those that do
    not shape the reference's training (the curve, the budgets), and the bytes of the
    ``arrays`` it trains on."""
    shaping = {k: v for k, v in options.items() if k not in ("curve", "time_budget_s")}
    digest = hashlib.sha256(json.dumps([target, shaping], sort_keys=True, default=str).encode())
    for name, array in arrays:
        value = np.ascontiguousarray(array)
        digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:32]


def measured(key: str) -> dict[str, Measured]:
    """GPU name → the reference's measured training on it, for the case ``key``."""
    found = _read().get(key, {})
    return {name: Measured(**entry) for name, entry in found.items() if isinstance(entry, dict)}


def seconds_by_device(key: str) -> dict[str, float]:
    """GPU name → the reference's training seconds on it, for the case ``key``."""
    return {name: entry.seconds for name, entry in measured(key).items()}


def record(key: str, device_name: str, entry: Measured) -> None:
    """Keep ``entry`` as the reference's training time on ``device_name`` for the case ``key``
    (replacing an earlier one); safe with several graders writing at once."""
    with _locked():
        data = _read()
        data.setdefault(key, {})[device_name] = asdict(entry)
        _write(data)


def path() -> Path:
    return datapath.state_root() / FILE


def _read() -> dict[str, dict[str, dict]]:
    try:
        data = json.loads(path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(data: dict) -> None:
    target = path()
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{FILE}.")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows (a student's kit, which never records): no other writer
        yield
        return
    with open(path().with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
