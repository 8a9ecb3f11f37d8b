"""subreaper: the sandbox's supervisor adopts every orphan of its tree
(``prctl(PR_SET_CHILD_SUBREAPER)``, ``grader/worker/supervisor.py``), so a double-forked daemon
dies with the sandbox."""

from __future__ import annotations

from grader.sandbox.layers import LAYERS, Layer, Probing, ways


def _works(probing: Probing) -> str | None:
    return None  # every Linux since 3.4; a supervisor that fails says so in its ready message


LAYERS.register(Layer(
    name="subreaper", order=50, probe=_works,
    stops="double-forked daemons stay in the sandbox's tree and die with it",
    needs="Linux 3.4+",
    ensures={"processes": ways({"subreaper"})}))
