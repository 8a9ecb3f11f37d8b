"""uid: a root grader runs each sandbox as an unprivileged uid of its own
(:mod:`grader.sandbox.uids`); the worker switches with ``grader/worker/confine/identity.py``."""

from __future__ import annotations

import os

from grader.sandbox import uids
from grader.sandbox.layers import LAYERS, Available, Layer, ways


def _impossible() -> str | None:
    if os.geteuid() != 0:
        return "the grader is not root, so there is no other uid to run student code as"
    return None


def _detail(found: Available) -> str:
    first, last = uids.uid_range()
    return f" ({first}-{last}, {uids.RANGE_ENV})"


LAYERS.register(Layer(
    name="uid", order=40, in_worker=True, impossible=_impossible, detail=_detail,
    stops="a root grader's sandboxes run as unprivileged uids of their own",
    needs="a root grader",
    ensures={"grader": ways({"uid"})}))
