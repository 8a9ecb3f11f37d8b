"""Which isolation layers work on this machine, what each one stops, and what a run had.

Probed once per process. The layers, each independent:

=============  ================================================================  ==========
layer          what it stops                                                      needs
=============  ================================================================  ==========
bubblewrap     namespaces: no network, own PID space, only bound folders visible  user namespaces
landlock       reads outside the system/Python/submission, writes outside         Linux 5.13+
               scratch; TCP (ABI 4+); signals, abstract sockets (ABI 6+)
seccomp        sockets, ptrace, process_vm_*, mounts, namespaces, bpf, io_uring   libseccomp
uid            a root grader's sandbox runs as an unprivileged uid of its own     root grader
subreaper      double-forked daemons come back to the sandbox's supervisor        Linux 3.4+
cgroup         one kill for every process; memory (shared memory and tmpfs too),   a writable cgroup
               tasks and an equal CPU weight, where those controllers are on      (v1 or v2)
ipc            an IPC namespace per sandbox (System V objects, message queues)   bubblewrap, or
                                                                                  unshare (probed)
=============  ================================================================  ==========

Resource limits (rlimits) and the parent's watchdog (wall clock, the memory of the whole
process tree, scratch size) apply in every mode. ``GRADER_NO_BWRAP=1`` turns bubblewrap
off; ``GRADER_DISABLE_LAYERS=landlock,seccomp`` (or ``all``) turns off others, to see what
each one buys.

A run's guarantees are named by what they protect (:data:`GUARANTEES`); a rubric with
``isolation: strict`` is graded only where all of them hold.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox import cgroup, installation, mounts, uids
from grader.sandbox.installation import WORKER_DIR

NO_BWRAP_ENV = "GRADER_NO_BWRAP"
DISABLE_ENV = "GRADER_DISABLE_LAYERS"
PROBE_TIMEOUT_S = 60  # a probe that says nothing by then failed
LAYERS = ("bubblewrap", "landlock", "seccomp", "uid", "subreaper", "cgroup", "ipc")

# What a student cannot do, and the layers (any one of the alternatives) that ensure it.
GUARANTEES: dict[str, list[set[str]]] = {
    "files": [{"bubblewrap", "files-verified"}, {"landlock-filesystem", "files-verified"}],
    "network": [{"bubblewrap"}, {"seccomp"}],
    "processes": [{"bubblewrap"}, {"subreaper"}, {"cgroup"}],
    "grader": [{"bubblewrap"}, {"uid"}, {"landlock-signals"},
               {"seccomp", "landlock-filesystem"}],
}
EXPLAINED = {
    "files": "read the answer key, the expected outputs, the gradebook or other submissions, "
             "or write outside its scratch folder",
    "network": "open a network connection",
    "processes": "leave a process running after its sandbox closed",
    "grader": "signal, trace or write into the grader",
}


@dataclass(frozen=True)
class Available:
    """The layers this machine offers this process, and why the others are missing."""

    layers: tuple[str, ...]
    missing: dict[str, str] = field(default_factory=dict)
    landlock_abi: int = 0
    # layers whose probe itself failed (killed, timed out, no report): not a property of the
    # machine, so a strict rubric refuses until ``grader doctor`` probes them cleanly
    failed: dict[str, str] = field(default_factory=dict)

    def has(self, layer: str) -> bool:
        return layer in self.layers


def disabled() -> set[str]:
    """Layers switched off by the environment."""
    names = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
    if "all" in names:
        names = set(LAYERS)
    if os.environ.get(NO_BWRAP_ENV):
        names.add("bubblewrap")
    return names


@functools.cache
def available() -> Available:
    """Probe every layer once (a bubblewrap start and one confined interpreter)."""
    off = disabled()
    layers: list[str] = []
    missing: dict[str, str] = {}
    if sys.platform != "linux":
        reason = f"{sys.platform} has none of the Linux isolation layers"
        return Available((), {layer: reason for layer in LAYERS})
    for layer in LAYERS:
        if layer in off:
            missing[layer] = f"turned off ({NO_BWRAP_ENV if layer == 'bubblewrap' else DISABLE_ENV})"
    if "bubblewrap" not in off:
        _keep("bubblewrap", _bubblewrap_problem(), layers, missing)
    if "subreaper" not in off:
        layers.append("subreaper")
    if "cgroup" not in off:
        _keep("cgroup", None if cgroup.usable() else cgroup.why_absent(), layers, missing)
    failed: dict[str, str] = {}
    enforced, abi = _probe_confinement(off, missing, failed)
    layers += [layer for layer in ("landlock", "seccomp", "uid") if layer in enforced]
    if "ipc" not in off:
        _keep("ipc", None if "ipc" in enforced or "bubblewrap" in layers else
              "this process may not unshare an IPC namespace (root without CAP_SYS_ADMIN, or "
              "an ordinary user) and bubblewrap is off: the syscall allowlist refuses System V "
              "IPC and message queues instead", layers, missing)
    found = Available(tuple(layers), {**missing, **failed}, abi, failed)
    if not found.has("bubblewrap"):
        say_once(fallback_sentence(found))
    return found


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


def _keep(layer: str, problem: str | None, layers: list[str], missing: dict[str, str]) -> None:
    if problem:
        missing[layer] = problem
    else:
        layers.append(layer)


def _bubblewrap_problem() -> str | None:
    if not shutil.which("bwrap"):
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    probe = subprocess.run(  # --size needs bubblewrap 0.7 or newer
        ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
         "--size", "1048576", "--tmpfs", "/tmp", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here ({probe.stderr.decode().strip()})"
    return _bubblewrap_selftest()


def _bubblewrap_selftest() -> str | None:
    """Start an interpreter under the mounts a worker gets and have it try to read every
    hidden place and write outside its tmpfs folders: bubblewrap is off if any attempt works."""
    roots = mounts.python_roots(mounts.Interpreter())
    spec = {"verify": {"unreadable": installation.witnesses(installation.hidden_paths()),
                       "unwritable": ["/", "/submission", "/harness", *roots]}}
    with tempfile.TemporaryDirectory() as empty:
        prefix = mounts.bwrap_prefix((Path(empty), "/submission"), mounts.Limits(),
                                       os.geteuid() == 0, roots)
        report = _report(prefix + [sys.executable, "-I", "/harness/main.py", "--probe",
                                   json.dumps(spec)])
    if "files-verified" in report["enforced"]:
        return None
    problems = [p.partition(": ")[2] for p in report["problems"]] or [
        f"it did not report ({report.get('crashed')})"]
    return f"its self-test failed: {problems[0]}"


def _probe_confinement(off: set[str], missing: dict[str, str],
                       failed: dict[str, str]) -> tuple[set[str], int]:
    """Apply Landlock, seccomp and the uid switch in a throw-away interpreter that then
    imports numpy, as a worker would; return the layers that held and the Landlock ABI.
    A uid that cannot read the Python installation is left out and the rest probed again;
    a probe that did not report (killed, timed out) fails every layer it tried (``failed``)."""
    wanted = {"landlock", "seccomp"} | ({"uid"} if os.geteuid() == 0 else set())
    wanted -= off
    if os.geteuid() != 0 and "uid" not in off:
        missing["uid"] = "the grader is not root, so there is no other uid to run student code as"
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
    enforced |= {"ipc"} if report.get("ipc") else set()
    if "files-verified" not in report["enforced"]:
        enforced.discard("landlock")  # its self-test read a hidden path: off, and _note says why
    for layer in wanted - enforced:
        missing.setdefault(layer, "the probe could not apply it")
    return enforced, int(report.get("abi", 0))


def _run_probe(wanted: set[str]) -> dict:
    if not wanted:
        return {"enforced": [], "problems": [], "abi": 0}
    lease = uids.acquire() if "uid" in wanted else None
    try:
        return _report([sys.executable, "-I", str(WORKER_DIR / "main.py"), "--probe",
                        json.dumps(probe_spec(wanted, lease))])
    finally:
        if lease:
            lease.release()


def _report(argv: list[str]) -> dict:
    """Run a probe; what it printed (its last line, JSON), or ``crashed``: why it did not."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                              cwd="/")
    except subprocess.TimeoutExpired:
        return {"enforced": [], "problems": [], "crashed": f"no answer in {PROBE_TIMEOUT_S} s"}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        how = (f"killed by signal {-proc.returncode}" if proc.returncode < 0 else
               f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return {"enforced": [], "problems": [], "crashed": how}


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
    """The guarantees (keys of :data:`GUARANTEES`) that ``layers`` enforce."""
    have = set(layers)
    return [name for name, ways in GUARANTEES.items() if any(way <= have for way in ways)]


def missing_guarantees(layers: list[str]) -> list[str]:
    return [name for name in GUARANTEES if name not in enforced_guarantees(layers)]


def layers_here() -> list[str]:
    """The fine-grained layers a worker started now would enforce (for guarantees)."""
    return fine_layers(available())


def fine_layers(found: Available) -> list[str]:
    """``found``'s layers with Landlock split into what its ABI enforces."""
    names = [layer for layer in found.layers if layer != "landlock"]
    if found.has("landlock"):
        names += [f"landlock-{scope}" for scope, abi in (("filesystem", 1), ("tcp", 4),
                                                          ("signals", 6)) if found.landlock_abi >= abi]
    if found.has("landlock") or found.has("bubblewrap"):
        names.append("files-verified")  # the probe dropped any whose self-test failed
    return names


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
