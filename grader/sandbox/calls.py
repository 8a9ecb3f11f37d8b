"""The data of one sandboxed call: the steps sent, and what happened (:class:`CallOutcome`).

A request is a list of :class:`Step` calls whose arguments are arrays, JSON scalars, an earlier
step's result (:class:`Ref`) or an array passed slice by slice (:class:`Each`); the reply is
decoded into a :class:`CallOutcome`, which only *reports*: the checks decide every score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class CallOutcome:
    """What happened to one call, as observed by the parent.

    ``status`` is one of ``returned``, ``raised``, ``timeout``, ``memory``,
    ``crashed``, ``missing_module``, ``missing_function``, ``import_failed``
    or ``protocol`` (the worker sent something malformed or too large).
    ``outputs`` holds the returned values (arrays, scalars, ``None``, or an
    ``{"unsupported": type}`` marker); ``seconds`` is the wall time of the call
    measured by the parent.
    """

    status: str
    outputs: list[Any] = field(default_factory=list)
    returned_tuple: bool = False
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0
    stdout: str = ""
    step: int | None = None
    during_import: bool = False
    cpu_s: float | None = None  # CPU-seconds of the worker's tree during the call (parent-measured)
    crowded_out: bool = False  # timed out while it got less than a fair share of a core


@dataclass(frozen=True)
class Ref:
    """An earlier step's result (``index`` into its tuple, or ``None`` for all of it)."""

    step: int
    index: int | None = None


@dataclass(frozen=True)
class Each:
    """An array whose slices along axis 0 are passed one per call (the step runs once per slice)."""

    array: np.ndarray


@dataclass(frozen=True)
class Step:
    """One function call inside a :meth:`SandboxSession.run` request.

    ``module`` defaults to the request's module (a pipeline may span several,
    e.g. ``student_harris`` then ``student_sift``).
    """

    function: str
    args: list[Any]
    module: str | None = None


def encode_arg(arg: Any, arrays: list[np.ndarray]) -> dict:
    """``arg`` as the request's JSON (an array is appended to ``arrays`` and named by index)."""
    if isinstance(arg, Ref):
        return {"ref": [arg.step, arg.index]}
    if isinstance(arg, Each):
        arrays.append(np.asarray(arg.array))
        return {"array": len(arrays) - 1, "each": True}
    if isinstance(arg, np.ndarray):
        arrays.append(arg)
        return {"array": len(arrays) - 1}
    return {"value": arg.item() if isinstance(arg, np.generic) else arg}


def outcome_of(header: dict, arrays: list[np.ndarray], seconds: float, stdout: str) -> CallOutcome:
    """The outcome a reply (``header`` and its ``arrays``) reports, or the error it carried."""
    if not header.get("ok"):
        category = header.get("category", "raised")
        status = {"exception": "raised", "import": "raised"}.get(category, category)
        step = header.get("step")
        return CallOutcome(status, error=str(header.get("error", ""))[:2000],
                           traceback=str(header.get("traceback", ""))[-8000:],
                           seconds=seconds, stdout=stdout,
                           step=step if isinstance(step, int) else None)
    outputs = [_output(item, arrays) for item in header.get("outputs", [])]
    return CallOutcome("returned", outputs, bool(header.get("tuple")), seconds=seconds, stdout=stdout)


def _output(item: Any, arrays: list[np.ndarray]) -> Any:
    if not isinstance(item, dict):
        return {"unsupported": "malformed"}
    kind = item.get("kind")
    if kind == "array" and isinstance(item.get("array"), int) and 0 <= item["array"] < len(arrays):
        return arrays[item["array"]]
    if kind == "none":
        return None
    if kind in ("scalar", "text"):
        return item.get("value")
    return {"unsupported": str(item.get("type", "unknown"))[:200]}
