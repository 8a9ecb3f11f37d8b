"""bubblewrap: fresh namespaces for every sandbox (no network, its own PID space, only the
bound folders visible), its file rules self-tested by a worker at probe time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.sandbox import installation, mounts
from grader.sandbox.layers import LAYERS, Available, Layer, Probing, _probe, ways


def problem(probing: Probing) -> str | None:
    """Why bubblewrap does not work here: not installed, no namespaces, or its self-test."""
    if not shutil.which("bwrap"):
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    probe = subprocess.run(  # --size needs bubblewrap 0.7 or newer
        ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
         "--size", "1048576", "--tmpfs", "/tmp", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here ({probe.stderr.decode().strip()})"
    return selftest()


def selftest() -> str | None:
    """Start an interpreter under the mounts a worker gets and have it try to read every
    hidden place and write outside its tmpfs folders: bubblewrap is off if any attempt works."""
    roots = mounts.python_roots(mounts.Interpreter())
    spec = {"verify": {"unreadable": installation.witnesses(installation.hidden_paths()),
                       "unwritable": ["/", "/submission", "/harness", *roots]}}
    with tempfile.TemporaryDirectory() as empty:
        prefix = mounts.bwrap_prefix((Path(empty), "/submission"), mounts.Limits(),
                                     os.geteuid() == 0, roots)
        report = _probe.report(prefix + [sys.executable, "-I", "/harness/main.py", "--probe",
                                         json.dumps(spec)])
    if "files-verified" in report["enforced"]:
        return None
    problems = [p.partition(": ")[2] for p in report["problems"]] or [
        f"it did not report ({report.get('crashed')})"]
    return f"its self-test failed: {problems[0]}"


def _scopes(layer: Layer, found: Available) -> tuple[str, ...]:
    return ("bubblewrap", "files-verified")  # the probe dropped it if its self-test failed


LAYERS.register(Layer(
    name="bubblewrap", order=10, probe=problem, scopes=_scopes,
    stops="namespaces: no network, its own PID space, only the bound folders visible",
    needs="user namespaces",
    ensures={"files": ways({"bubblewrap", "files-verified"}), "network": ways({"bubblewrap"}),
             "processes": ways({"bubblewrap"}), "grader": ways({"bubblewrap"})}))
