"""Which isolation layers work on this machine, what each one stops, and what a run had.

Probed once per process. The layers are plugins, one module each in
:mod:`grader.sandbox.layers` (bubblewrap, landlock, seccomp, uid, subreaper, cgroup, ipc):
each says what it stops, what it needs and what it ensures, and is probed here — the
trusted-side ones by their own probe, those the worker applies to itself together, in one
confined interpreter that then imports numpy as a worker would.

Resource limits (rlimits) and the parent's watchdog (wall clock, the memory of the whole
process tree, scratch size) apply in every mode. ``GRADER_NO_BWRAP=1`` turns bubblewrap
off; ``GRADER_DISABLE_LAYERS=landlock,seccomp`` (or ``all``) turns off others, to see what
each one buys.

A run's guarantees are named by what they protect (:func:`guarantees`); a rubric with
``isolation: strict`` is graded only where all of them hold.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import warnings

from grader.sandbox import mounts, uids
from grader.sandbox.installation import WORKER_DIR
from grader.sandbox.layers import LAYERS, Available, Layer, Probing, _probe, ordered

NO_BWRAP_ENV = "GRADER_NO_BWRAP"
DISABLE_ENV = "GRADER_DISABLE_LAYERS"
__all__ = ["Available", "available", "guarantees", "layer_names"]

# What a student cannot do (the guarantees), said as what nothing would stop where one fails.
EXPLAINED = {
    "files": "read the answer key, the expected outputs, the gradebook or other submissions, "
             "or write outside its scratch folder",
    "network": "open a network connection",
    "processes": "leave a process running after its sandbox closed",
    "grader": "signal, trace or write into the grader",
}


def layer_names() -> tuple[str, ...]:
    """The registered layers' names, in their order."""
    return tuple(layer.name for layer in ordered())


def guarantees() -> dict[str, list[frozenset[str]]]:
    """Each guarantee (a key of :data:`EXPLAINED`) and the ways the layers ensure it: sets of
    fine layer names, any one of which suffices."""
    return {name: [way for layer in ordered() for way in layer.ensures.get(name, ())]
            for name in EXPLAINED}


def disabled() -> set[str]:
    """Layers switched off by the environment."""
    names = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
    if "all" in names:
        names = set(layer_names())
    if os.environ.get(NO_BWRAP_ENV):
        names.add("bubblewrap")
    return names


_PROBING = threading.Lock()


def available() -> Available:
    """Probe every layer once per process (a bubblewrap start and one confined interpreter);
    threads that ask at once (the course server's graders) wait for the one probe."""
    with _PROBING:
        return _probed()


@functools.cache
def _probed() -> Available:
    if sys.platform != "linux":
        reason = f"{sys.platform} has none of the Linux isolation layers"
        return Available((), {name: reason for name in layer_names()})
    off = disabled()
    missing = {name: f"turned off ({NO_BWRAP_ENV if name == 'bubblewrap' else DISABLE_ENV})"
               for name in layer_names() if name in off}
    failed: dict[str, str] = {}
    enforced, abi = _probe_confinement(off, missing, failed)
    layers: list[str] = []
    for layer in ordered():
        if layer.name in off or layer.name in failed:
            continue
        problem = _problem(layer, Probing(tuple(layers), frozenset(enforced)), enforced)
        if problem:
            missing.setdefault(layer.name, problem)
        else:
            layers.append(layer.name)
    found = Available(tuple(layers), {**missing, **failed}, abi, failed)
    if not found.has("bubblewrap"):
        say_once(fallback_sentence(found))
    return found


def _problem(layer: Layer, probing: Probing, enforced: set[str]) -> str | None:
    """Why ``layer`` does not work here, or ``None``."""
    if layer.in_worker:
        return None if layer.name in enforced else "the probe could not apply it"
    return (layer.impossible() or layer.probe(probing)) if layer.probe else \
        f"layer {layer.name!r} has no probe"


available.cache_clear = _probed.cache_clear  # type: ignore[attr-defined]  # probe again (tests)


def fallback_sentence(found: Available) -> str:
    """One sentence for a machine without bubblewrap: why, what confines student code instead,
    and what nothing stops."""
    layers = fine_layers(found)
    text = (f"sandbox: {found.missing.get('bubblewrap', 'no bubblewrap')}; student code runs "
            f"as a plain subprocess with resource limits and "
            f"{', '.join(layers) if layers else 'no other isolation layer'}")
    gaps = missing_guarantees(layers)
    if gaps:
        text += "; nothing stops a submission from: " + "; ".join(EXPLAINED[g] for g in gaps)
    return text


def _probe_confinement(off: set[str], missing: dict[str, str],
                       failed: dict[str, str]) -> tuple[set[str], int]:
    """Apply the layers a worker applies to itself (Landlock, seccomp, the uid switch) in a
    throw-away interpreter that then imports numpy, as a worker would; return the layers that
    held (and ``ipc`` when it could unshare an IPC namespace) and the Landlock ABI.
    A uid that cannot read the Python installation is left out and the rest probed again;
    a probe that did not report (killed, timed out) fails every layer it tried (``failed``)."""
    wanted = set()
    for layer in ordered():
        if layer.in_worker and layer.name not in off:
            reason = layer.impossible()
            if reason:
                missing[layer.name] = reason
            else:
                wanted.add(layer.name)
    report = _run_probe(wanted)
    if report.get("crashed"):
        failed.update({layer: f"its probe failed ({report['crashed']})" for layer in wanted})
        return set(), 0
    if "uid" in wanted and not any(name == "uid" for name in report["enforced"]):
        _note(report, missing)
        wanted.discard("uid")
        report = _run_probe(wanted)
    _note(report, missing)
    enforced = {name.split("-")[0] for name in report["enforced"]} & wanted
    if "files-verified" not in report["enforced"]:
        enforced.discard("landlock")  # its self-test read a hidden path: off, and _note says why
    enforced |= {"ipc"} if report.get("ipc") else set()
    return enforced, int(report.get("abi", 0))


def _run_probe(wanted: set[str]) -> dict:
    if not wanted:
        return {"enforced": [], "problems": [], "abi": 0}
    lease = uids.acquire() if "uid" in wanted else None
    try:
        return _probe.report([sys.executable, "-I", str(WORKER_DIR / "main.py"), "--probe",
                              json.dumps(probe_spec(wanted, lease))])
    finally:
        if lease:
            lease.release()


def _note(report: dict, missing: dict[str, str]) -> None:
    for problem in report["problems"]:
        layer, _, text = problem.partition(": ")
        missing.setdefault(layer if layer in LAYERS else "landlock", text)


def probe_spec(wanted: set[str], lease) -> dict:
    """The confinement part of a launch spec for the probe (system and Python readable), with
    the self-test a worker runs: the probe proves the file rules as a worker would."""
    return mounts.confinement(
        wanted, lease, read=mounts.system_paths() + [str(WORKER_DIR)], write=[],
        protect=[os.getpid()], unwritable=["/", str(WORKER_DIR)],
        drop_capabilities="uid" not in disabled())


def enforced_guarantees(layers: list[str]) -> list[str]:
    """The guarantees (keys of :data:`EXPLAINED`) that the fine ``layers`` enforce."""
    have = set(layers)
    return [name for name, alternatives in guarantees().items()
            if any(way <= have for way in alternatives)]


def missing_guarantees(layers: list[str]) -> list[str]:
    return [name for name in EXPLAINED if name not in enforced_guarantees(layers)]


def layers_here() -> list[str]:
    """The fine-grained layers a worker started now would enforce (for guarantees)."""
    return fine_layers(available())


def fine_layers(found: Available) -> list[str]:
    """``found``'s layers, each split into what it enforces here (its ``scopes``: Landlock by
    its ABI, ``files-verified`` where a worker's self-test proved the file rules)."""
    names = [name for layer in ordered() if found.has(layer.name)
             for name in layer.scopes(layer, found)]
    return list(dict.fromkeys(names))


def require_all_guarantees(assignment: str) -> None:
    """Refuse (one sentence) to grade a rubric with ``isolation: strict`` where a guarantee fails.

    Raises
    ------
    GraderError
        Naming what nothing would stop here, and how to get the missing layers.
    """
    from grader.errors import GraderError

    failed = available().failed
    if failed:
        raise GraderError(
            f"{assignment}'s rubric demands isolation: strict, but the probe of "
            f"{', '.join(sorted(failed))} failed here ({next(iter(failed.values()))}): "
            "run `grader doctor` until it probes every layer cleanly")
    gaps = missing_guarantees(layers_here())
    if gaps:
        raise GraderError(
            f"{assignment}'s rubric demands isolation: strict, but here nothing stops a "
            f"submission from: {'; '.join(EXPLAINED[g] for g in gaps)} (run `grader doctor`; "
            "install bubblewrap, or grade on Linux 5.13+ with Landlock and libseccomp)")


SAID_ENV = "GRADER_ISOLATION_SAID"  # set once said: worker processes of a batch inherit it


def say_once(text: str) -> None:
    """A one-time warning about this machine's isolation: once per process (Python shows each
    text once), and not again in the pool and Dask workers a batch starts after saying it."""
    if os.environ.get(SAID_ENV) == text[:200]:
        return
    os.environ[SAID_ENV] = text[:200]
    warnings.warn(text, RuntimeWarning, stacklevel=3)
