"""Warm workers (grader.sandbox.zygote): sandboxes forked from a pre-imported interpreter
behave as cold ones do — same layers, limits, exit statuses and fresh state — and start
cold wherever a warm one could not be trusted or started. (What one sandbox must not leave
for the next is the hostile corpus's sequence, tests/test_hostile.py, in every mode.)"""

from __future__ import annotations

import contextlib
import os
import signal
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from grader.datapath import REPO_ROOT
from grader.sandbox import SandboxSession, isolation, zygote
from grader.sandbox.mounts import Limits
from grader.sandbox.processes import descendants

CODE = textwrap.dedent('''
    import os, signal, sys
    import numpy as np

    def double(x):
        return 2 * x

    def who():
        return os.getpid(), float(np.random.rand()), "scipy" in sys.modules

    def crash():
        os.kill(os.getpid(), signal.SIGSEGV)

    def spin():
        while True:
            pass

    def hoard():
        return [np.ones(1 << 27) for _ in range(64)]

    def own_temp():
        import tempfile
        folder = tempfile.mkdtemp(prefix="datasets-")
        with open(os.path.join(folder, "x"), "w") as handle:
            handle.write("ok")
        return folder.startswith(os.environ["HOME"])

    def capabilities():
        with open("/proc/self/status") as status:
            return [int(line.split()[1], 16) for line in status
                    if line.startswith(("CapPrm:", "CapEff:", "CapAmb:"))]
''')

needs_warm = pytest.mark.skipif(zygote.why_cold() is not None,
                                reason=f"sandboxes start cold here ({zygote.why_cold()})")


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    (tmp_path / "student_code.py").write_text(CODE)
    return tmp_path


def _call(folder: Path, function: str, timeout_s: float = 20, **options):
    with SandboxSession(folder, limits=Limits(memory_mb=1024), **options) as session:
        outcome = session.call("student_code", function, [], timeout_s)
        return outcome, session.warm, session.layers


def _idle_zygote_pids() -> set[int]:
    return {z._proc.pid for waiting in zygote._idle.values() for z in waiting if z._proc}


@needs_warm
def test_sandboxes_of_a_slot_are_forked_by_one_zygote_with_the_layers_of_a_cold_one(submission):
    zygote.close_all()
    first, warm, layers = _call(submission, "who")
    slot = _idle_zygote_pids()
    second, warm_again, layers_again = _call(submission, "who")
    assert warm and warm_again and _idle_zygote_pids() == slot and len(slot) == 1
    assert first.outputs[0] != second.outputs[0]  # each sandbox its own process
    assert first.outputs[1] != second.outputs[1]  # and its own random state
    os.environ[zygote.WARM_ENV] = "0"
    try:
        cold, was_warm, cold_layers = _call(submission, "who")
    finally:
        del os.environ[zygote.WARM_ENV]
    assert not was_warm and cold.status == "returned"
    assert layers == layers_again == cold_layers


@needs_warm
def test_a_warm_sandbox_keeps_the_limits_and_exit_statuses_of_a_cold_one(submission):
    with SandboxSession(submission, limits=Limits(memory_mb=1024)) as session:
        assert session.call("student_code", "double", [np.ones(3)], 20).outputs[0].tolist() == [2] * 3
        assert session.warm
        crashed = session.call("student_code", "crash", [], 20)
        assert crashed.status == "crashed" and "SIGSEGV" in crashed.error
        assert session.call("student_code", "spin", [], 1.0).status == "timeout"
        assert session.call("student_code", "hoard", [], 20).status == "memory"
        again = session.call("student_code", "double", [np.ones(1)], 20)  # forked afresh
        assert again.status == "returned" and session.warm


@needs_warm
def test_a_warm_sandbox_finds_its_own_temp_folder_and_holds_no_capability(submission):
    """torchvision caches the zygote's temporary folder when it is imported; a forked
    sandbox must use its own scratch (proj4's create_datasets failed as root without
    namespaces), and the capability its supervisor kept is gone before student code runs."""
    preload = ("torch", "torchvision")
    try:
        outcome, warm, _ = _call(submission, "own_temp", preload=preload)
        assert warm and outcome.status == "returned" and outcome.outputs == [True], outcome.error
        outcome, warm, _ = _call(submission, "capabilities", preload=preload)
        assert warm and outcome.outputs == [0, 0, 0], outcome.outputs
    finally:
        zygote.close_all()  # the other tests count the idle zygotes of one key


@needs_warm
def test_a_zygote_that_died_is_replaced(submission):
    _call(submission, "double")
    for pid in _idle_zygote_pids():
        os.kill(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.01)  # dead (a zombie until the grader reaps it)
    outcome, warm, _ = _call(submission, "who")
    assert outcome.status == "returned" and warm


@needs_warm
def test_a_zygote_that_does_not_fork_in_time_leaves_the_sandbox_to_a_cold_start(submission):
    _call(submission, "double")
    (outer,) = _idle_zygote_pids()  # bwrap's pid under bubblewrap: the zygote is inside
    inner = [pid for pid in [outer, *descendants(outer)]
             if b"zygote.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
             and Path(f"/proc/{pid}/comm").read_text().strip() != "bwrap"]
    os.kill(inner[0], signal.SIGSTOP)
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            outcome, warm, _ = _call(submission, "who", timeout_s=3)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the grader ended it, as it should
            os.kill(inner[0], signal.SIGCONT)
    assert outcome.status == "returned" and not warm  # the 5 s it waited cost the call none
    assert any("starting cold" in str(w.message) for w in said)
    assert _idle_zygote_pids() == set()  # the stopped zygote was ended, not lent again


@needs_warm
def test_a_submission_that_ships_a_preloaded_library_s_name_starts_cold(submission):
    (submission / "scipy.py").write_text("SHADOW = True\n")
    outcome, warm, _ = _call(submission, "who", preload=("scipy",))
    assert outcome.status == "returned" and not warm
    plain = submission.parent / "plain"
    plain.mkdir()
    (plain / "student_code.py").write_text(CODE)
    preloaded, warm, _ = _call(plain, "who", preload=("scipy",))
    assert warm and preloaded.outputs[2] is True  # scipy came with the zygote


def test_a_zygote_preloads_what_the_kit_imports():
    assert zygote.preload_for(REPO_ROOT / "assignments" / "proj4_cnn" / "kit") == ("torch", "torchvision")
    assert zygote.preload_for(REPO_ROOT / "assignments" / "proj1_filtering" / "kit") == ()
    assert zygote.preload_for(REPO_ROOT / "assignments" / "no_such_kit" / "kit") == ()


def test_with_resource_limits_only_sandboxes_start_cold(submission, monkeypatch):
    monkeypatch.setenv(isolation.DISABLE_ENV, "all")
    monkeypatch.setenv(isolation.NO_BWRAP_ENV, "1")
    isolation.available.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert "every isolation guarantee" in (zygote.why_cold() or "")
            outcome, warm, layers = _call(submission, "double")
    finally:
        isolation.available.cache_clear()
    assert outcome.status == "raised" and not warm and layers == ()  # double() needs x
