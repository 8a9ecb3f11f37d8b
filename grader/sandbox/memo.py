"""One student call, run once per grading, and kept for re-scoring.

Several checks often call the same stage on the same input. Within one submission's grading,
a request whose module, functions and argument bytes hash the same as an earlier one gets a
copy of the earlier outcome instead of running again. The key is computed here, on the
trusted side, from what is sent; the sandbox never sees the memo. Only outcomes that the
student's code decided are kept (``returned``, ``raised``): a timeout or a crash may come
from the machine and is run again. Kinds that need fresh runs (timing, training) say so
(:attr:`grader.checks.base.CheckKind.fresh_calls`) and get :meth:`CallMemo.fresh`, which
always runs and only records.

Every kept outcome is also recorded (:attr:`CallMemo.recorded`, encoded by
:func:`encode_outcome`) so that the gradebook can store it: ``grader rescore`` seeds a memo
with a submission's stored outcomes (``replay``) and re-scores an edited rubric without
running the student's code, except the requests that are new.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from typing import Any

import numpy as np

from grader.results import decode_arrays, encode_arrays
from grader.sandbox.calls import CallOutcome, Each, Ref, Step
from grader.sandbox.session import SandboxSession

KEPT = ("returned", "raised")


class CallMemo:
    """A :class:`SandboxSession` seen through a memo of its requests' outcomes.

    ``stored`` are outcomes of earlier gradings of the same submission (key -> outcome),
    served as they were, timing and output included, to every kind.
    ``reuse=False`` records without serving (to measure what the memo saves).
    ``context`` names what else decides an outcome besides the request (the course
    environment, compatibility shims, provided files): outcomes stored under another
    context do not match.
    """

    def __init__(self, session: SandboxSession, stored: dict[str, CallOutcome] | None = None,
                 reuse: bool = True, context: str = ""):
        self.session = session
        self._context = context
        self.reused = 0  # requests answered without running
        self.ran = 0  # requests that ran the student's code
        self.recorded: dict[str, CallOutcome] = {}
        self._stored = dict(stored or {})
        self._reuse = reuse

    def call(self, module: str, function: str, args: list[Any], timeout_s: float) -> CallOutcome:
        return self.run(module, [Step(function, args)], None, timeout_s)

    def run(self, module: str, steps: list[Step], returns: list[Ref] | None,
            timeout_s: float, cpu_limit_s: float | None = None, fresh: bool = False) -> CallOutcome:
        """:meth:`SandboxSession.run`, or a copy of the outcome of the same request: a stored
        one as it was, or one from earlier in this grading (its output already shown, so
        ``stdout`` is empty, and ``seconds`` 0: nothing ran). ``fresh`` requests run unless
        a stored outcome answers them (re-scoring: nothing of the student's runs again)."""
        key = request_key(module, steps, returns, cpu_limit_s, self._context)
        if key in self._stored:
            self.reused += 1
            self.recorded[key] = self._stored[key]
            return copy.deepcopy(self._stored[key])
        known = self.recorded.get(key)
        if known is not None and self._reuse and not fresh:
            self.reused += 1
            reused = copy.deepcopy(known)
            reused.stdout, reused.seconds, reused.cpu_s = "", 0.0, None
            return reused
        self.ran += 1
        outcome = self.session.run(module, steps, returns, timeout_s, cpu_limit_s)
        if outcome.status in KEPT:
            self.recorded[key] = copy.deepcopy(outcome)
        return outcome

    def fresh(self) -> _Fresh:
        """The view a kind with ``fresh_calls`` gets: every request runs (and is recorded)."""
        return _Fresh(self)

    def __getattr__(self, name: str) -> Any:  # stop, source_root, isolation, layers, ...
        return getattr(self.session, name)


class _Fresh:
    def __init__(self, memo: CallMemo):
        self._memo = memo

    def call(self, module: str, function: str, args: list[Any], timeout_s: float) -> CallOutcome:
        return self.run(module, [Step(function, args)], None, timeout_s)

    def run(self, module: str, steps: list[Step], returns: list[Ref] | None,
            timeout_s: float, cpu_limit_s: float | None = None) -> CallOutcome:
        return self._memo.run(module, steps, returns, timeout_s, cpu_limit_s, fresh=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._memo.session, name)


def request_key(module: str, steps: list[Step], returns: list[Ref] | None,
                cpu_limit_s: float | None = None, context: str = "") -> str:
    """SHA-256 of everything a request sends: modules, functions, argument bytes and types,
    and the ``context`` it runs in (see :class:`CallMemo`)."""
    digest = hashlib.sha256()
    _feed(digest, [module, cpu_limit_s, returns] + ([context] if context else []))
    for step in steps:
        _feed(digest, [step.module, step.function, list(step.args)])
    return digest.hexdigest()


def _feed(digest, value: Any) -> None:
    if isinstance(value, np.ndarray):
        digest.update(f"A{value.dtype.str}{value.shape}".encode())
        # an object array has no bytes to compare: its request is never matched
        digest.update(np.ascontiguousarray(value).tobytes() if value.dtype != object
                      else os.urandom(16))
    elif isinstance(value, Each):
        digest.update(b"E")
        _feed(digest, value.array)
    elif isinstance(value, Ref):
        digest.update(f"R{value.step},{value.index}".encode())
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(b"J" + json.dumps(value, sort_keys=True, default=repr).encode())


# --- storage: an outcome as text (JSON with its arrays in a base64 .npz, no pickle) ---------

def encode_outcome(outcome: CallOutcome) -> str:
    """The outcome as JSON, then (after a newline, which JSON text never holds raw) its arrays
    as :func:`~grader.results.encode_arrays` writes them: outside the JSON, whose encoder
    would scan megabytes of base64 for characters to escape (2 ms a grading)."""
    arrays: dict[str, np.ndarray] = {}
    data = {"status": outcome.status, "outputs": [_plain(v, arrays) for v in outcome.outputs],
            "returned_tuple": outcome.returned_tuple, "error": outcome.error,
            "traceback": outcome.traceback, "seconds": outcome.seconds, "stdout": outcome.stdout,
            "step": outcome.step, "during_import": outcome.during_import, "cpu_s": outcome.cpu_s}
    return json.dumps(data) + ("\n" + encode_arrays(arrays) if arrays else "")


def decode_outcome(text: str) -> CallOutcome:
    """An outcome :func:`encode_outcome` wrote (or, before, with its arrays inside the JSON)."""
    head, _, packed = text.partition("\n")
    data = json.loads(head)
    packed = packed or data.pop("arrays", "")
    data.pop("arrays", None)
    arrays = decode_arrays(packed) if packed else {}
    data["outputs"] = [_value(v, arrays) for v in data["outputs"]]
    return CallOutcome(**data)


def _plain(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"array": name}
    if isinstance(value, dict):
        return {"dict": {str(k): _plain(v, arrays) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"list": [_plain(v, arrays) for v in value]}
    return {"value": value.item() if isinstance(value, np.generic) else value}


def _value(item: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    if "array" in item:
        return arrays[item["array"]]
    if "dict" in item:
        return {k: _value(v, arrays) for k, v in item["dict"].items()}
    if "list" in item:
        return [_value(v, arrays) for v in item["list"]]
    return item["value"]


def encode_recorded(recorded: dict[str, CallOutcome]) -> dict[str, str]:
    return {key: encode_outcome(outcome) for key, outcome in recorded.items()}


def decode_stored(stored: dict[str, str]) -> dict[str, CallOutcome]:
    return {key: decode_outcome(text) for key, text in stored.items()}
