"""cgroup: each sandbox in a cgroup leaf of its own (:mod:`grader.sandbox.cgroup`): one kill for
every process, and memory (shared memory and tmpfs too), tasks and an equal CPU weight capped by
the kernel where those controllers are on."""

from __future__ import annotations

from grader.sandbox import cgroup
from grader.sandbox.layers import LAYERS, Layer, Probing, ways


def _problem(probing: Probing) -> str | None:
    return None if cgroup.usable() else cgroup.why_absent()


LAYERS.register(Layer(
    name="cgroup", order=60, probe=_problem,
    stops="one kill for every process of a sandbox (and memory/pids caps where enabled)",
    needs="a writable cgroup (v1 or v2)",
    ensures={"processes": ways({"cgroup"})}))
