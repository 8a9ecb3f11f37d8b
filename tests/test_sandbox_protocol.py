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


# --- the framing itself: arrays cross without copies, and carry no code ---------------------

def _wire(header: dict, arrays: list) -> tuple[bytes, bytearray]:
    """What the receiving side reads: the header's bytes and the payload, in its own buffer."""
    from grader.worker import protocol

    message = b"".join(bytes(part) for part in protocol.frames(header, arrays))
    head_len, _ = protocol.split_prefix(message[:protocol.PREFIX_BYTES], 1 << 40)
    body = message[protocol.PREFIX_BYTES:]
    return body[:head_len], bytearray(body[head_len:])


def test_arrays_of_every_kind_cross_the_boundary_as_they_were():
    from grader.worker import protocol

    sent = [np.arange(12.0).reshape(3, 4), np.asfortranarray(np.arange(6).reshape(2, 3)),
            np.float32(2.5) * np.ones(()), np.zeros((0, 3)), np.arange(5, dtype=">i2"),
            np.array(["ab", "c"]), np.array(["2020-01-01"], dtype="datetime64[D]"),
            np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]), np.arange(10)[::3], np.ones(3, complex)]
    head, payload = _wire({"x": 1}, sent)
    header, received = protocol.decode(head, payload)
    assert header["x"] == 1
    for before, after in zip(sent, received):
        assert (after.shape, after.dtype) == (before.shape, before.dtype)
        assert np.array_equal(after, before) and after.flags.writeable


def test_a_large_array_is_read_as_a_view_of_the_buffer_it_arrived_in():
    from grader.worker import protocol

    image = np.random.default_rng(0).random((512, 512, 3))
    parts = protocol.frames({}, [image])
    assert np.shares_memory(np.asarray(parts[-1]), image)  # written from its own memory
    head, payload = _wire({}, [image])
    _, (received,) = protocol.decode(head, payload)
    assert np.shares_memory(received, np.frombuffer(payload, np.uint8))  # and not copied
    assert np.array_equal(received, image)


def test_an_array_of_python_objects_crosses_in_neither_direction():
    from grader.worker import protocol

    with pytest.raises(ValueError, match="Python objects"):
        protocol.frames({}, [np.array([1, "a"], dtype=object)])
    forged = bytearray(b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }")
    forged += b" " * (128 - len(forged) - 1) + b"\n"
    forged[8:10] = (len(forged) - 10).to_bytes(2, "little")
    forged += bytes(8)
    with pytest.raises(protocol.ProtocolError, match="Python objects"):
        protocol.decode(b'{"arrays": [%d]}' % len(forged), forged)
    with pytest.raises(protocol.ProtocolError):  # lengths that do not add up
        protocol.decode(b'{"arrays": [5]}', bytearray(4))
