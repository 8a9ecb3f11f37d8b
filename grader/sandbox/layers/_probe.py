"""Run a probe interpreter and read its report (the last line it printed, JSON)."""

from __future__ import annotations

import json
import subprocess

PROBE_TIMEOUT_S = 60  # a probe that says nothing by then failed


def report(argv: list[str]) -> dict:
    """Run ``argv``; what it printed, or ``crashed``: why it did not report."""
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
