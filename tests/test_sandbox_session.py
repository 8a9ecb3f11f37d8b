"""The sandboxed worker seen from the parent: calls, output capture, limits, kills, isolation."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import Each, Ref, SandboxSession, Step, isolation, launcher
from grader.sandbox.installation import WORKER_DIR
from grader.sandbox.mounts import Limits

SOURCE = '''
import os, subprocess, sys, time
import numpy as np
print("imported")

def double(a):
    print("doubling", a.shape)
    return a * 2

def several(a):
    return a, 3, 2.5, None, "text", [[1, 2], [3, 4]], {"a": 1}

def chatty(n):
    for _ in range(n):
        sys.stdout.write("x" * 1023 + "\\n")
    return 1

def spin(a):
    while True:
        pass

def spawn_and_spin(tag):
    subprocess.Popen(["sleep", tag])
    while True:
        time.sleep(0.1)

def crash(a):
    os._exit(7)

def hog(mb):
    return np.ones(int(mb) << 17)  # float64: mb MiB

def read(path):
    with open(path, "rb") as handle:
        return len(handle.read())

def write(path):
    with open(path, "w") as handle:
        handle.write("x")
    return 1

def connect(port):
    import socket
    socket.create_connection(("127.0.0.1", port), timeout=2)
    return 1

def forward(x, w):
    return x @ w, (x, w)

def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return seconds

def nap(seconds):
    time.sleep(seconds)
    return seconds

def backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout

def fork_then_hog(mb):
    for _ in range(4):
        if os.fork() == 0:  # the call returns at once; the children take memory afterwards
            try:
                time.sleep(0.3)
                block = np.ones(int(mb) << 17)
                time.sleep(5)
            finally:
                os._exit(0)
    return 1

def python_again():
    out = subprocess.run([sys.executable, "-c", "import numpy; print(6 * 7)"],
                         capture_output=True, text=True)
    return out.stdout.strip() + out.stderr[-300:]

def loader_workers(workers):
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    data = TensorDataset(torch.arange(64.0).reshape(16, 4))
    batches = DataLoader(data, batch_size=4, num_workers=int(workers), timeout=30)
    return float(sum(batch[0].sum() for batch in batches))

def fork_a_sleeper(tag):
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", tag])
    return 1
'''


@pytest.fixture(scope="module")
def submission_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sub")
    (folder / "student_code.py").write_text(textwrap.dedent(SOURCE))
    return folder


@pytest.fixture
def session(submission_dir):
    with SandboxSession(submission_dir, limits=Limits(memory_mb=1024)) as running:
        yield running


def _alive(tag: str) -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if tag.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            pass
    return False


def test_call_returns_arrays_and_captures_output(session):
    outcome = session.call("student_code", "double", [np.arange(6.0).reshape(2, 3)], 10)
    assert outcome.status == "returned"
    np.testing.assert_array_equal(outcome.outputs[0], np.arange(6.0).reshape(2, 3) * 2)
    assert outcome.stdout == "imported\ndoubling (2, 3)\n"
    again = session.call("student_code", "double", [np.ones(2)], 10)
    assert again.stdout == "doubling (2,)\n"  # import output is reported once


def test_return_values_become_plain_data(session):
    outcome = session.call("student_code", "several", [np.ones(2)], 10)
    a, three, half, none, text, nested, mapping = outcome.outputs
    assert outcome.returned_tuple and three == 3 and half == 2.5 and none is None
    assert text == "text" and nested.tolist() == [[1, 2], [3, 4]]
    assert mapping == {"unsupported": "dict of object"}


def test_steps_share_objects_inside_the_worker(session):
    x, w = np.ones((2, 3)), np.arange(12.0).reshape(3, 4)
    outcome = session.run("student_code", [Step("forward", [x, w]),
                                           Step("backward", [np.ones((2, 4)), Ref(0, 1)])],
                          [Ref(0, 0), Ref(1, 0), Ref(1, 1)], 10)
    out, dx, dw = outcome.outputs
    np.testing.assert_array_equal(out, x @ w)
    assert dx.shape == (2, 3) and dw.shape == (3, 4)
    stacked = session.run("student_code", [Step("forward", [Each(np.ones((5, 2, 3))), w])],
                          [Ref(0, 0)], 10)
    assert stacked.outputs[0].shape == (5, 2, 4)
    # a value past the end of a returned tuple reads as None (e.g. x, y from a two-value return)
    short = session.run("student_code", [Step("forward", [x, w])], [Ref(0, 1), Ref(0, 4)], 10)
    assert short.status == "returned" and short.outputs[1] is None


def test_output_is_bounded_but_the_call_completes(session):
    outcome = session.call("student_code", "chatty", [20_000], 30)  # ~20 MiB
    assert outcome.status == "returned" and outcome.outputs == [1]
    assert len(outcome.stdout) < 50_000 and "bytes not shown" in outcome.stdout


def test_timeout_kills_the_tree_and_the_next_call_gets_a_fresh_worker(session):
    tag = "4242.4242"
    started = time.perf_counter()
    outcome = session.call("student_code", "spawn_and_spin", [tag], 1.5)
    assert outcome.status == "timeout" and time.perf_counter() - started < 5
    time.sleep(0.2)
    assert not _alive(tag)
    assert session.call("student_code", "double", [np.ones(1)], 10).status == "returned"


def test_crash_is_reported_and_recovered(session):
    outcome = session.call("student_code", "crash", [np.ones(1)], 10)
    assert outcome.status == "crashed" and "code 7" in outcome.error
    assert session.call("student_code", "double", [np.ones(1)], 10).status == "returned"


def test_memory_limit_is_a_memory_outcome(session):
    outcome = session.call("student_code", "hog", [4096], 20)
    assert outcome.status == "memory"
    assert session.call("student_code", "hog", [64], 20).status == "returned"


def test_memory_taken_by_children_after_the_return_counts_against_the_next_call(session):
    assert session.call("student_code", "double", [np.ones(2)], 60).status == "returned"
    first = session.call("student_code", "fork_then_hog", [300], 20)
    assert first.status in ("returned", "memory"), first.error
    later = []  # four children wake and take 1.2 GiB, over the 1 GiB limit, between calls
    while first.status != "memory" and len(later) < 120 and "memory" not in later:
        time.sleep(0.5)
        later.append(session.call("student_code", "double", [np.ones(2)], 20).status)
    assert first.status == "memory" or later[-1] == "memory", later


def test_a_sleeping_leftover_does_not_hold_the_call_up(session):
    started = time.perf_counter()
    outcome = session.call("student_code", "fork_a_sleeper", ["613"], 20)
    assert outcome.status == "returned" and time.perf_counter() - started < 5
    session.close()
    assert not _alive("sleep 613")


def test_missing_function_and_module(session):
    assert session.call("student_code", "absent", [], 10).status == "missing_function"
    assert session.call("other_module", "f", [], 10).status == "missing_module"


def test_a_function_under_a_near_name_is_suggested(session):
    """A student who named the function a little differently is told which one was meant."""
    near = session.call("student_code", "doubel", [np.ones(2)], 10)
    assert near.status == "missing_function"
    assert near.error == "student_code.py defines no function 'doubel' (did you mean 'double'?)"
    assert "did you mean" not in session.call("student_code", "unrelated_name", [], 10).error


def test_a_traceback_shows_the_students_frames_never_the_harness(session):
    outcome = session.call("student_code", "read", ["/no/such/file"], 10)
    assert outcome.status == "raised" and "FileNotFoundError" in outcome.traceback
    assert ", in read" in outcome.traceback  # the student's own frame
    assert "server.py" not in outcome.traceback and "/harness" not in outcome.traceback
    assert str(WORKER_DIR) not in outcome.traceback


@pytest.mark.skipif(not launcher.bubblewrap_available(), reason="bubblewrap not usable here")
class TestIsolation:
    def test_cannot_read_the_repository_or_home(self, session):
        reference = Path(__file__).resolve().parents[1] / "reference" / "filtering.py"
        outcome = session.call("student_code", "read", [str(reference)], 10)
        assert outcome.status == "raised" and "FileNotFoundError" in outcome.error

    def test_writes_outside_scratch_fail_and_tmp_is_private(self, session, tmp_path):
        target = tmp_path / "escaped.txt"
        assert session.call("student_code", "write", [str(target)], 10).status == "raised"
        assert not target.exists()
        assert session.call("student_code", "write", ["/tmp/private.txt"], 10).status == "returned"
        assert not Path("/tmp/private.txt").exists()

    def test_no_network(self, session):
        import socket

        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.5)
        outcome = session.call("student_code", "connect", [server.getsockname()[1]], 10)
        assert outcome.status == "raised"
        with pytest.raises(socket.timeout):
            server.accept()
        server.close()


def test_fallback_without_bubblewrap_says_so(submission_dir, monkeypatch):
    monkeypatch.setenv(launcher.DISABLE_ENV, "1")
    monkeypatch.delenv(isolation.SAID_ENV, raising=False)
    isolation.available.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="plain subprocess"):
            available = launcher.bubblewrap_available()
        assert not available
        with SandboxSession(submission_dir) as fallback:
            outcome = fallback.call("student_code", "double", [np.ones(3)], 10)
            assert fallback.isolation == "subprocess" and outcome.status == "returned"
            tag = "4343.4343"
            assert fallback.call("student_code", "spawn_and_spin", [tag], 1.5).status == "timeout"
            time.sleep(0.2)
            assert not _alive(tag)
    finally:
        isolation.available.cache_clear()


@pytest.mark.parametrize("namespaces", [True, False], ids=["bubblewrap", "no namespaces"])
def test_the_sandbox_can_start_its_own_interpreter(submission_dir, monkeypatch, namespaces):
    """The Python installation is carved around the answer key; a fresh interpreter must still
    list its standard library (subprocess.run([sys.executable, ...]), multiprocessing's spawn)."""
    if not namespaces:
        monkeypatch.setenv(launcher.DISABLE_ENV, "1")
    isolation.available.cache_clear()
    try:
        if namespaces and not launcher.bubblewrap_available():
            pytest.skip("bubblewrap cannot create namespaces here")
        with SandboxSession(submission_dir) as session:
            outcome = session.call("student_code", "python_again", [], 60)
        assert outcome.status == "returned" and outcome.outputs == ["42"], outcome.outputs
    finally:
        isolation.available.cache_clear()


@pytest.mark.slow  # torch in the sandbox
def test_a_dataloader_s_workers_run_inside_namespaces(submission_dir):
    """torch's DataLoader workers pass tensors over a Unix socket (multiprocessing's resource
    sharer) and use /dev/shm: both the sandbox's own under bubblewrap."""
    if not launcher.bubblewrap_available():
        pytest.skip("bubblewrap cannot create namespaces here")
    limits = Limits(memory_mb=4096, address_space_limit=False)  # as for proj4's torch checks
    with SandboxSession(submission_dir, limits=limits, preload=("torch",)) as session:
        outcome = session.call("student_code", "loader_workers", [2], 120)
    assert outcome.status == "returned" and outcome.outputs == [2016.0], outcome.error


@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_resident_memory_watchdog_when_address_space_is_unlimited(submission_dir):
    limits = Limits(memory_mb=300, address_space_limit=False)
    with SandboxSession(submission_dir, limits=limits) as watched:
        assert watched.call("student_code", "hog", [64], 20).status == "returned"
        outcome = watched.call("student_code", "hog", [1500], 20)
        assert outcome.status == "memory" and "more than the 300 MiB allowed" in outcome.error
        assert watched.call("student_code", "hog", [64], 20).status == "returned"


# --- a CPU budget on a loaded machine -------------------------------------------------------

@pytest.fixture
def loaded_machine():
    """Twice as many CPU burners as cores: the worker gets well under one core."""
    import subprocess
    import sys

    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(min(16, 2 * (os.cpu_count() or 1)))]
    time.sleep(0.5)
    yield
    for burner in burners:
        burner.kill()
        burner.wait()


def test_a_cpu_budget_outlasts_its_wall_limit_while_it_computes(session, loaded_machine):
    assert session.call("student_code", "double", [np.ones(2)], 60).status == "returned"  # started
    started = time.perf_counter()
    outcome = session.run("student_code", [Step("burn", [2.0])], None, 2.0, cpu_limit_s=8.0)
    assert outcome.status == "returned", outcome.error  # 2 CPU-s took longer than 2 s of wall
    assert time.perf_counter() - started > 2.0 and outcome.cpu_s >= 2.0


def test_a_request_that_waits_still_ends_at_its_wall_limit(session, loaded_machine):
    assert session.call("student_code", "double", [np.ones(2)], 60).status == "returned"
    started = time.perf_counter()
    outcome = session.run("student_code", [Step("nap", [30])], None, 2.0, cpu_limit_s=8.0)
    assert outcome.status == "timeout" and "did not finish within 2 s" in outcome.error
    assert time.perf_counter() - started < 6


def test_a_busy_request_stops_at_its_cpu_budget(session):
    assert session.call("student_code", "double", [np.ones(2)], 60).status == "returned"
    outcome = session.run("student_code", [Step("burn", [60.0])], None, 30.0, cpu_limit_s=1.5)
    assert outcome.status == "timeout" and "used more than 1.5 CPU-seconds" in outcome.error
    assert outcome.seconds < 10
