"""The protocol between the grader and its worker: the grader never blocks on the student, and
accepts only the one reply to the request it sent.

Student code runs inside the worker process, so it can rebind the worker's own functions
(``sys.modules["server"]``) and write to the reply pipe (its number is in the request
loop's frame). Each test below does one of those and checks the parent's verdict: a
deadline instead of a hang, ``broke the sandbox protocol`` instead of a forged reply.
"""

from __future__ import annotations

import textwrap
import threading
import time

import numpy as np
import pytest

from grader.sandbox import SandboxSession

HOSTILE_WORKER = textwrap.dedent('''
    import json, os, sys, threading, time

    import numpy as np

    def _spec():
        """The worker's launch spec, from the frame of its request loop (a cold worker's is
        on its command line too; a warm one's is not)."""
        frame = sys._getframe()
        while "spec" not in frame.f_locals:
            frame = frame.f_back
        return frame.f_locals["spec"]

    def _forged(answer):
        protocol = sys.modules["protocol"]
        return protocol.encode({"ok": True, "outputs": [{"kind": "array", "array": 0}],
                                "tuple": False, "id": "guessed"}, [np.asarray(answer)])

    def stop_reading():
        """The worker reads no further request (and shrinks its request pipe to one page)."""
        import fcntl
        fcntl.fcntl(_spec()["fds"]["request"], 1031, 4096)   # F_SETPIPE_SZ
        sys.modules["server"]._read = lambda fd: time.sleep(10 ** 6)
        return 1

    def answer_unasked(answer):
        """The next request is answered before it is read, with a forged reply."""
        reply = _spec()["fds"]["reply"]
        def forge(fd):
            os.write(reply, _forged(answer))
            time.sleep(10 ** 6)
        sys.modules["server"]._read = forge
        return 1

    def extra_replies(answer, delay):
        """Two more full-size replies on the reply pipe, now or a little later."""
        reply = _spec()["fds"]["reply"]
        def flood():
            time.sleep(delay)
            for _ in range(2):
                os.write(reply, _forged(np.full(1 << 18, answer)))
        if delay:
            threading.Thread(target=flood, daemon=True).start()
        else:
            flood()
        return 1

    def double(x):
        return 2 * x
''')


@pytest.fixture
def hostile_dir(tmp_path):
    (tmp_path / "student_code.py").write_text(HOSTILE_WORKER)
    return tmp_path


def _bounded(action, seconds: float):
    """Run ``action`` in a thread; fail (not hang the suite) if it takes over ``seconds``."""
    done: list = []
    thread = threading.Thread(target=lambda: done.append(action()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert done, f"the grader was still blocked after {seconds} s"
    return done[0]


@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_a_worker_that_stops_reading_cannot_block_the_grader(hostile_dir):
    with SandboxSession(hostile_dir) as session:
        assert session.call("student_code", "stop_reading", [], 10).status == "returned"
        big = np.ones(8 << 20, dtype=np.uint8)  # far more than the 4 KiB pipe holds
        started = time.perf_counter()
        outcome = _bounded(lambda: session.call("student_code", "double", [big], 2), 20)
        assert outcome.status == "timeout"
        assert time.perf_counter() - started < 10
        # a fresh worker takes over
        assert session.call("student_code", "double", [np.arange(3)], 10).outputs[0].tolist() == [0, 2, 4]


def test_an_answer_to_a_request_not_yet_read_is_a_protocol_violation(hostile_dir):
    """The forged answer follows the real one at once: the parent finds it behind the first
    reply (when both arrive in one read, as on a loaded machine) or as the answer to the next
    request; either way a protocol violation, never the forged value, and the session goes on."""
    with SandboxSession(hostile_dir) as session:
        first = session.call("student_code", "answer_unasked", [np.full(3, 7)], 10)
        later = _bounded(lambda: session.call("student_code", "double", [np.arange(3)], 5), 20)
        outcomes = [first.status, later.status]
        assert first.status in ("returned", "protocol") and "protocol" in outcomes, outcomes
        for outcome in (first, later):
            if outcome.status == "protocol":
                assert "broke the sandbox protocol" in outcome.error
        if later.status == "returned":  # never the forged value
            assert later.outputs[0].tolist() == [0, 2, 4]
        assert session.call("student_code", "double", [np.arange(3)], 10).status == "returned"


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_extra_replies_are_a_protocol_violation_not_a_deadlock(hostile_dir, delay):
    with SandboxSession(hostile_dir) as session:
        first = session.call("student_code", "extra_replies", [7, delay], 10)
        time.sleep(delay + 0.3)
        big = np.ones(4 << 20, dtype=np.uint8)
        later = _bounded(lambda: session.call("student_code", "double", [big], 5), 20)
        outcomes = [first.status, later.status]
        assert "protocol" in outcomes, outcomes
        assert all(o in ("returned", "protocol") for o in outcomes)
        if later.status == "returned":  # never the forged value
            assert later.outputs[0].max() == 2
