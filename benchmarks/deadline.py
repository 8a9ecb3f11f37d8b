"""A deadline rush on the course's server: many students handing in at once, some of them again
and again, with the server killed (``kill -9``) in the middle.

Starts ``grader serve --accept proj1_filtering`` as a real process over a fresh gradebook (the
course's rubric, every check, graded by the real harness in the real sandbox), with
``--graders`` grading threads. ``--students`` students on the roster hand in through the HTTP API (as
``grader submit`` does) over ``--minutes``: arrivals grow towards the deadline, and a share of
the students (``--eager``) hand in ten times. At ``--kill-at`` of the way the server is killed
with SIGKILL and started again at once; uploads sent while it is down are retried.

Prints one table:

- the wait of each student's last upload (receive to graded): median, 95th percentile, worst;
- fairness: the most gradings of any one other student that started while an upload waited
  (round robin by student: at most one per grading slot, whatever the eager ones send);
- what the kill cost: uploads lost (must be 0), uploads graded twice with different results
  (must be 0), and how many were graded again after the restart.

Run: ``python benchmarks/deadline.py [--students 300] [--minutes 10] [--graders 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader.kit import submit as client
from grader.store.gradebook import Gradebook
from grader.store.queues import Queues
from grader.store.submit_tokens import SubmitTokens

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "proj1_filtering"  # the course's own rubric, every check
CORRECT = (ROOT / "assignments" / ASSIGNMENT / "examples" / "alice_correct" / "student_code.py").read_text()


def schedule(students: int, eager: float, minutes: float, seed: int) -> list[tuple[float, str, int]]:
    """``(seconds from the start, student, attempt)`` for every upload, in time order: each
    student's first upload at a time drawn to grow towards the deadline (a triangular
    distribution peaking at the end), an eager student's nine more spread after it."""
    rng = random.Random(seed)
    span = minutes * 60
    plan = []
    for number in range(students):
        student = f"s{number:03d}"
        first = rng.triangular(0, span, span)
        plan.append((first, student, 0))
        if rng.random() < eager:
            plan += [(rng.uniform(first, span), student, attempt) for attempt in range(1, 10)]
    return sorted(plan)


def code_of(student: str, attempt: int) -> bytes:
    """A different file each attempt (so none is answered from the gradebook): correct, with a
    comment naming the student and the attempt."""
    return f"# {student}, attempt {attempt}\n{CORRECT}".encode()


class Server:
    """``grader serve`` as a process of its own (``kill`` it, ``start`` it again)."""

    def __init__(self, db: Path, rubric: str, graders: int) -> None:
        self.db, self.rubric, self.graders = db, rubric, graders
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "serve", "--db", str(self.db), "--port",
             str(self.port), "--accept", self.rubric, "--graders", str(self.graders)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start in 120 s")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def hand_in(server: Server, tokens: dict[str, str], student: str, attempt: int,
            sent: list[dict]) -> None:
    """One upload through the API, retried while the server is down."""
    for _ in range(600):
        try:
            receipt = client.submit(server.url, tokens[student], ASSIGNMENT, code_of(student, attempt),
                                    "student_code.py")
            sent.append({"student": student, "attempt": attempt, "upload": receipt["upload"]})
            return
        except Exception:  # noqa: BLE001 - the server is being restarted: try again
            time.sleep(0.2)
    raise RuntimeError(f"{student}'s upload {attempt} never got through")


def run(students: int, minutes: float, graders: int, eager: float, kill_at: float,
        seed: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="deadline-"))
    db = folder / "book.sqlite"
    names = [f"s{n:03d}" for n in range(students)]
    with Gradebook(db), Queues(db) as queues, SubmitTokens(db) as made:
        queues.set_sections({name: "A" for name in names})
        tokens = {name: made.issue(name) for name in names}
    server = Server(db, ASSIGNMENT, graders)
    server.start()
    plan = schedule(students, eager, minutes, seed)
    sent: list[dict] = []
    started, killed = time.monotonic(), False
    workers: list[threading.Thread] = []
    for at, student, attempt in plan:
        while time.monotonic() - started < at:
            time.sleep(0.05)
        if not killed and at >= kill_at * minutes * 60:
            server.kill()
            killed = True
            threading.Thread(target=server.start, daemon=True).start()
        thread = threading.Thread(target=hand_in, args=(server, tokens, student, attempt, sent))
        thread.start()
        workers.append(thread)
    for thread in workers:
        thread.join()
    _wait_until_drained(db)
    server.kill()
    return _measure(db, sent, plan)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_drained(db: Path) -> None:
    while True:
        with sqlite3.connect(db) as connection:
            left = connection.execute("SELECT count(*) FROM uploads WHERE state IN "
                                      "('queued', 'grading')").fetchone()[0]
        if left == 0:
            return
        time.sleep(1)


def _measure(db: Path, sent: list[dict], plan: list) -> dict:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT id, student, state, received_s, started_s, finished_s, attempts FROM uploads"
        ).fetchall()
        results = connection.execute("SELECT student, content_hash, score FROM results").fetchall()
    uploads = {row[0]: row for row in rows}
    last = {}
    for upload in sorted(uploads.values(), key=lambda r: r[3]):
        last[upload[1]] = upload
    waits = [u[5] - u[3] for u in last.values() if u[2] == "graded"]
    scores: dict[tuple[str, str], set[float]] = {}
    for student, content, score in results:
        scores.setdefault((student, content), set()).add(score)
    starts = sorted((u[4], u[1]) for u in uploads.values() if u[4] is not None)
    return {
        "uploads sent": len(plan), "uploads received": len(sent),
        "lost": len(plan) - len({s["upload"] for s in sent} & set(uploads)),
        "not graded (last uploads)": sum(u[2] != "graded" for u in last.values()),
        "graded again after the kill": sum(u[6] > 1 for u in uploads.values()),
        "graded twice, different results": sum(len(v) > 1 for v in scores.values()),
        "wait median (s)": statistics.median(waits),
        "wait p95 (s)": statistics.quantiles(waits, n=20)[-1] if len(waits) > 1 else waits[0],
        "wait worst (s)": max(waits),
        "most gradings of one other student during a wait": _fairness(last.values(), starts),
    }


def _fairness(waiting, starts: list[tuple[float, str]]) -> int:
    """The most gradings of any one other student that started while an upload waited."""
    worst = 0
    for upload in waiting:
        if upload[4] is None:
            continue
        counts: dict[str, int] = {}
        for moment, student in starts:
            if upload[3] < moment < upload[4] and student != upload[1]:
                counts[student] = counts.get(student, 0) + 1
        worst = max([worst, *counts.values()])
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--graders", type=int, default=2)
    parser.add_argument("--eager", type=float, default=0.1,
                        help="share of students who hand in ten times")
    parser.add_argument("--kill-at", type=float, default=0.5,
                        help="when the server is killed, as a share of the time")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    measured = run(args.students, args.minutes, args.graders, args.eager, args.kill_at, args.seed)
    print(f"{args.students} students over {args.minutes:g} min, {args.graders} graders, "
          f"{args.eager:.0%} handing in ten times, server killed at {args.kill_at:.0%}:\n")
    print("| measure | value |\n| --- | --- |")
    for name, value in measured.items():
        print(f"| {name} | {value:.1f} |" if isinstance(value, float) else f"| {name} | {value} |")
    if args.json:
        args.json.write_text(json.dumps(measured, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
