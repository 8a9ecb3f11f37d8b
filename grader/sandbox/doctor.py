"""``grader doctor``: which isolation layers work here, what each stops, what nothing stops."""

from __future__ import annotations

import os
import platform
import sys

from grader.sandbox import installation, isolation
from grader.sandbox.layers import ordered

def report() -> dict:
    """The probe as data: layers (with why missing), guarantees, and the machine."""
    found = isolation.available()
    fine = isolation.fine_layers(found)
    layers = {layer.name: {"available": found.has(layer.name),
                           "blocks": layer.stops + (layer.detail(found) if found.has(layer.name)
                                                    else ""),
                           "missing": found.missing.get(layer.name)}
              for layer in ordered()}
    guarantees = {name: {"holds": name in isolation.enforced_guarantees(fine),
                         "cannot": isolation.EXPLAINED[name] + _proof(name, fine)}
                  for name in isolation.EXPLAINED}
    return {"machine": f"{platform.system()} {platform.release()}, "
                       f"{'root' if os.geteuid() == 0 else 'uid ' + str(os.geteuid())}, "
                       f"Python {platform.python_version()} ({sys.executable})",
            "layers": layers, "guarantees": guarantees}


def _proof(guarantee: str, layers: list[str]) -> str:
    """How the probe proved ``guarantee`` beyond applying its layers (the file rules' self-test)."""
    if guarantee != "files" or "files-verified" not in layers:
        return ""
    tried = installation.witnesses(installation.hidden_paths())
    return f" (self-tested: a confined worker tried to open {len(tried)} hidden places and failed)"


def render(data: dict) -> str:
    """The report as text, one line per layer and per guarantee."""
    lines = [f"Isolation of student code on this machine ({data['machine']}):", ""]
    for name, layer in data["layers"].items():
        mark = "yes" if layer["available"] else "no "
        why = "" if layer["available"] else f"  [{layer['missing']}]"
        lines.append(f"  {name:<11} {mark}  {layer['blocks']}{why}")
    lines += ["", "Always: resource limits (memory, CPU, processes, files), and the grader's own "
              "watchdog (wall clock, memory of the whole process tree, scratch size).", "",
              "A submission cannot:"]
    for guarantee in data["guarantees"].values():
        lines.append(f"  {'✓' if guarantee['holds'] else '✗ (NOT ensured here)'} "
                     f"{guarantee['cannot']}")
    return "\n".join(lines)
