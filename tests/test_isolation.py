"""The isolation layers one by one: Landlock, seccomp, sandbox uids, sealed state, the
supervisor, the time budget, ``grader doctor`` and ``isolation: strict``.

The hostile corpus (test_hostile.py) proves what the layers stop together, per mode; these
tests pin each layer's own behaviour, so that a broken one is named.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import run_grader
from grader import datapath, workdirs
from grader.prepare import sealed
from grader.store.gradebook import Gradebook
from grader.grading import Budget
from grader.results import CheckResult, Status, SubmissionResult
import numpy as np

from grader.sandbox import SandboxSession, isolation, syscall_policy, uids, workspace, zygote
from grader.worker.confine import grants, landlock, seccomp

WORKER = Path(isolation.WORKER_DIR)
needs_landlock = pytest.mark.skipif(landlock.abi() < 1, reason="Landlock is not enabled here")
needs_seccomp = pytest.mark.skipif(not seccomp.available(), reason="libseccomp is not installed")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _confined(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that can import the worker's ``confine`` package."""
    prelude = f"import sys; sys.path.insert(0, {str(WORKER)!r})\n"
    return subprocess.run([sys.executable, "-I", "-c", prelude + textwrap.dedent(code)],
                          cwd=cwd, capture_output=True, text=True, timeout=60)


# --- Landlock -------------------------------------------------------------------------

def test_grants_cover_a_tree_except_its_hidden_folders(tmp_path):
    for folder in ("lib/site/reference", "lib/site/numpy", "lib/other", "bin"):
        (tmp_path / folder).mkdir(parents=True)
    covered = grants([str(tmp_path)], [str(tmp_path / "lib/site/reference")])
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in covered) == [
        "bin", "lib/other", "lib/site/numpy"]
    assert grants([str(tmp_path)], []) == [str(tmp_path)]


def test_grants_are_carved_on_real_paths_and_never_follow_a_link(tmp_path):
    """A venv's ``lib64 -> lib`` granted whole was all of ``lib``, the answer key included."""
    venv = tmp_path / "venv"
    (venv / "lib/site/reference").mkdir(parents=True)
    (venv / "lib/site/numpy").mkdir(parents=True)
    (venv / "lib64").symlink_to("lib")
    (tmp_path / "outside").mkdir()
    (venv / "lib/site/escape").symlink_to(tmp_path / "outside")
    (tmp_path / "via").symlink_to(venv)
    covered = grants([str(tmp_path / "via")], [str(venv / "lib64/site/reference")])
    assert sorted(Path(p).relative_to(venv).as_posix() for p in covered) == ["lib/site/numpy"]


@needs_landlock
def test_the_self_test_finds_a_rule_widened_on_purpose(tmp_path):
    secret = tmp_path / "key" / "answers.py"
    secret.parent.mkdir()
    secret.write_text("ANSWER = 42\n")
    (tmp_path / "scratch").mkdir()
    for widened, expected in ((False, "files-verified"), (True, "files: the self-test could read")):
        read = ["/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", sys.prefix]
        spec = {"landlock": {"read": read + ([str(tmp_path)] if widened else []),
                             "read_trees": [], "hidden": [], "write": [str(tmp_path / "scratch")]},
                "verify": {"unreadable": [str(secret)],
                           "unwritable": [str(tmp_path), str(tmp_path / "key")]}}
        proc = _confined(f"""
            import confine, json
            print(json.dumps(confine.apply({spec!r})))
            """, tmp_path)
        enforced, problems = json.loads(proc.stdout)
        assert expected in (enforced if not widened else problems[0]), proc.stdout + proc.stderr
        if widened:
            assert "files-verified" not in enforced and f"read {secret}" in problems[0]


@needs_landlock
def test_a_widened_rule_turns_landlock_off_and_a_strict_rubric_refuses(tmp_path, monkeypatch):
    from grader.sandbox import mounts

    monkeypatch.setenv(isolation.NO_BWRAP_ENV, "1")
    widened = mounts.system_paths() + [str(Path(__file__).resolve().parents[1])]
    monkeypatch.setattr(mounts, "system_paths", lambda: widened)
    isolation.available.cache_clear()
    try:
        found = isolation.available()
        assert not found.has("landlock")
        assert "the self-test could read" in found.missing["landlock"]
        assert "files" in isolation.missing_guarantees(isolation.fine_layers(found))
        with pytest.raises(Exception, match="demands isolation: strict"):
            isolation.require_all_guarantees("proj1_filtering")
    finally:
        isolation.available.cache_clear()


@needs_landlock
def test_landlock_grants_reads_writes_and_nothing_else(tmp_path):
    (tmp_path / "granted").mkdir()
    (tmp_path / "granted" / "data.txt").write_text("granted")
    (tmp_path / "scratch").mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    proc = _confined(f"""
        import os, socket, sys
        from confine import landlock
        read = ["/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", sys.prefix,
                {str(tmp_path / 'granted')!r}]
        print(landlock.restrict(read, [{str(tmp_path / 'scratch')!r}], ["/dev/null"]))
        print(open({str(tmp_path / 'granted' / 'data.txt')!r}).read())
        open({str(tmp_path / 'scratch' / 'new.txt')!r}, "w").write("ok")
        for attempt in (lambda: open({str(tmp_path / 'secret.txt')!r}).read(),
                        lambda: open({str(tmp_path / 'granted' / 'new.txt')!r}, "w"),
                        lambda: socket.create_connection(("127.0.0.1", 9), timeout=1)):
            try:
                attempt()
                print("ALLOWED")
            except OSError as exc:
                print(type(exc).__name__)
        """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert "'filesystem': True" in lines[0] and lines[1] == "granted"
    assert lines[2:4] == ["PermissionError", "PermissionError"]
    assert lines[4] == ("PermissionError" if landlock.abi() >= 4 else "ConnectionRefusedError")
    assert (tmp_path / "scratch" / "new.txt").read_text() == "ok"


# --- seccomp --------------------------------------------------------------------------

def _rules(namespaces: bool = False) -> str:
    return json.dumps(syscall_policy.load().rules(namespaces=namespaces, gpu=False))


@needs_seccomp
def test_seccomp_denies_sockets_tracing_namespaces_and_signals_to_the_protected(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        proc = _confined(f"""
            import ctypes, json, os, signal, socket
            from confine import seccomp
            seccomp.install(json.loads({_rules()!r}), [{sleeper.pid}])
            libc = ctypes.CDLL(None, use_errno=True)
            def outcome(action):
                try:
                    action()
                    return "allowed"
                except OSError as exc:
                    return exc.__class__.__name__
            print(outcome(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)))
            print(outcome(lambda: socket.socket(socket.AF_UNIX)))
            print(outcome(lambda: socket.socketpair()))
            print(libc.ptrace(0, 0, None, None), ctypes.get_errno())         # PTRACE_TRACEME
            print(libc.unshare(0x10000000), ctypes.get_errno())               # CLONE_NEWUSER
            print(outcome(lambda: os.kill({sleeper.pid}, signal.SIGKILL)))
            print(outcome(lambda: os.kill(-1, signal.SIGKILL)))
            pid = os.fork()
            if pid == 0:
                os._exit(7)
            print(os.waitpid(pid, 0)[1] >> 8)
            import resource
            print(outcome(lambda: os.sched_setaffinity({sleeper.pid}, {{0}})))   # pin the grader
            print(outcome(lambda: resource.prlimit({sleeper.pid}, resource.RLIMIT_NOFILE, (3, 3))))
            print(outcome(lambda: os.setpriority(os.PRIO_PROCESS, {sleeper.pid}, 19)))
            print(outcome(lambda: os.sched_setaffinity(0, os.sched_getaffinity(0))))  # itself
            print(outcome(lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0))))
            print(outcome(lambda: os.nice(1)))
            """, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split("\n")[:14] == [
            "PermissionError", "PermissionError", "allowed", "-1 1", "-1 1",
            "PermissionError", "PermissionError", "7"] + ["PermissionError"] * 3 + ["allowed"] * 3
        assert sleeper.poll() is None  # the protected process lives
    finally:
        sleeper.kill()
        sleeper.wait()


@needs_seccomp
def test_the_allowlist_refuses_what_nobody_listed_and_allows_computation(tmp_path):
    proc = _confined(f"""
        import ctypes, json, os, socket, subprocess, sys, threading
        from confine import seccomp
        seccomp.install(json.loads({_rules()!r}))
        libc = ctypes.CDLL(None, use_errno=True)
        def errno_of(result):
            return "ok" if result >= 0 else os.strerror(ctypes.get_errno())
        print(errno_of(libc.shmget(0, 4096, 0o1600)))                 # System V shared memory
        print(errno_of(libc.semget(0, 1, 0o1600)))
        print(errno_of(libc.msgget(0, 0o1600)))
        print(errno_of(libc.memfd_create(b"hoard", 0)))                # memory no limit sees
        print(errno_of(libc.syscall(425, 8, None)))                    # io_uring_setup (x86-64)
        print(errno_of(libc.syscall(435, None, 0)))                    # clone3 (x86-64)
        print(errno_of(libc.personality(0x0040000)))                   # ADDR_NO_RANDOMIZE
        print(errno_of(libc.personality(0xFFFFFFFF)))                  # a query
        print(errno_of(libc.prctl(0x59616D61, 0xFFFFFFFF, 0, 0, 0)))   # PR_SET_PTRACER any
        print(errno_of(libc.prctl(15, b"renamed", 0, 0, 0)))           # PR_SET_NAME
        print(errno_of(libc.ioctl(0, 0x5412, b"x")))                   # TIOCSTI
        import numpy as np
        a = np.arange(40000.0).reshape(200, 200)
        t = threading.Thread(target=lambda: a @ a)
        t.start(); t.join()
        out = subprocess.run([sys.executable, "-I", "-c", "print(6 * 7)"], capture_output=True)
        print(out.stdout.decode().strip(), float((a @ a)[1, 1]))
        """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:12] == [
        "Operation not permitted"] * 4 + ["Function not implemented"] * 2 + [
        "Operation not permitted", "ok", "Operation not permitted", "ok",
        "Operation not permitted", "42 " + str(float(np.arange(40000.0).reshape(200, 200)[1] @
                                                     np.arange(40000.0).reshape(200, 200)[:, 1]))]


@needs_seccomp
def test_unix_sockets_are_allowed_only_inside_namespaces_of_the_sandbox(tmp_path):
    for namespaces, expected in ((True, "allowed"), (False, "PermissionError")):
        proc = _confined(f"""
            import json, socket
            from confine import seccomp
            seccomp.install(json.loads({_rules(namespaces)!r}))
            for family in (socket.AF_UNIX, socket.AF_INET, socket.AF_NETLINK):
                try:
                    socket.socket(family, socket.SOCK_DGRAM).close()
                    print("allowed")
                except OSError as exc:
                    print(type(exc).__name__)
            """, tmp_path)
        assert proc.stdout.split() == [expected, "PermissionError", "PermissionError"], proc.stderr


def test_the_allowlist_file_says_why_for_every_call_and_refuses_what_docker_refuses():
    policy = syscall_policy.load()
    assert all(len(entry.why.split()) >= 2 for entry in policy.allowed)
    assert not policy.names() & set(policy.refused)
    # what Docker's documentation names as refused by its default seccomp profile: refused here too
    docker_refuses = {"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "clone3",
                      "create_module", "delete_module", "finit_module", "get_kernel_syms",
                      "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load",
                      "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount", "move_pages",
                      "name_to_handle_at", "nfsservctl", "open_by_handle_at", "perf_event_open",
                      "personality", "pivot_root", "process_vm_readv", "process_vm_writev",
                      "ptrace", "query_module", "quotactl", "reboot", "request_key",
                      "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon",
                      "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib",
                      "userfaultfd", "ustat", "vm86", "vm86old"}
    unconditional = {e.name for e in policy.allowed if e.arg is None}
    assert not unconditional & docker_refuses  # personality: its query form only
    rules = policy.rules(namespaces=False, gpu=False)
    assert not any(name == "socket" for name, _ in rules["allow"])
    assert ["ioctl", None] in policy.rules(namespaces=False, gpu=True)["allow"]
    assert ["ioctl", None] not in rules["allow"]
    aimed = {name: masked for name, masked in rules["allow"] if name in ("prlimit64", "setpriority")}
    assert aimed == {"prlimit64": [0, 0xFFFFFFFF, 0], "setpriority": [1, 0xFFFFFFFF, 0]}  # itself


@needs_seccomp
def test_with_every_ioctl_allowed_for_a_gpu_typing_into_a_terminal_is_still_refused(tmp_path):
    gpu_rules = json.dumps(syscall_policy.load().rules(namespaces=False, gpu=True))
    proc = _confined(f"""
        import ctypes, json, os, pty
        from confine import seccomp
        leader, follower = pty.openpty()
        seccomp.install(json.loads({gpu_rules!r}), [os.getppid()])
        libc = ctypes.CDLL(None, use_errno=True)
        print(libc.ioctl(follower, 0x5412, b"x"), ctypes.get_errno())   # TIOCSTI
        print(libc.ioctl(follower, 0x5413, ctypes.create_string_buffer(8)))  # TIOCGWINSZ
        """, tmp_path)
    assert proc.stdout.split("\n")[:2] == ["-1 1", "0"], proc.stderr


@needs_seccomp
@pytest.mark.parametrize("narrow", [False, True], ids=["gpu any", "gpu narrowed"])
def test_the_narrowed_gpu_rule_lets_nvidia_s_requests_through_and_no_other_device_s(narrow):
    """A request that passes the filter reaches the descriptor's driver (a pipe answers ENOTTY);
    one that does not is EPERM. NVIDIA's escapes (type 'F'), nvidia-uvm's numbers and the
    terminal queries pass the narrowed rule; a socket's own request (SIOCGIFCONF) passes only
    ``gpu: any``; TIOCSTI neither."""
    from grader.sandbox import gpu_checks

    found = gpu_checks.ioctl_errnos(narrow)
    assert found["nvidia"] == [25] * 5  # ENOTTY: through the filter; the pipe knows none
    assert (found["socket"] == [1]) == narrow  # EPERM only where narrowed
    assert found["tiocsti"] == [1]


def test_a_malformed_allowlist_is_refused_with_the_entry_named(tmp_path):
    bad = tmp_path / "syscalls.yaml"
    bad.write_text("groups:\n  files:\n    read: files\n")
    with pytest.raises(syscall_policy.PolicyError, match="read must say why"):
        syscall_policy.load(bad)
    bad.write_text("groups:\n  files:\n    read: reading files\nrefused:\n  EPERM:\n"
                   "    read: refused too\n")
    with pytest.raises(syscall_policy.PolicyError, match="read is listed twice"):
        syscall_policy.load(bad)
    bad.write_text("groups:\n  x:\n    ioctl: {why: some reason, when: {arg: 1, one_of: [NOPE]}}\n")
    with pytest.raises(syscall_policy.PolicyError, match="NOPE"):
        syscall_policy.load(bad)
    bad.write_text("groups:\n  x:\n    ioctl: {why: some reason, when: {arg: 1, one_of: [TCGETS]},"
                   " gpu_narrow: {arg: 2, masked: [[IOC_TYPE_MASK, NV_IOCTL_TYPE]]}}\n")
    with pytest.raises(syscall_policy.PolicyError, match="gpu_narrow needs the arg of its 'when'"):
        syscall_policy.load(bad)


# --- cgroup leaves ----------------------------------------------------------------------

def test_joining_a_cgroup_closes_every_descriptor_the_grader_opened_even_when_a_move_fails(tmp_path):
    """A warm sandbox's supervisor gets the leaf's files open from the grader (root): one left
    open after a failed move would reach the worker, which could move other processes."""
    import sys

    sys.path.insert(0, str(WORKER))
    try:
        import supervisor
    finally:
        sys.path.remove(str(WORKER))
    (tmp_path / "tasks").write_text("")
    refusing = os.open(tmp_path / "tasks", os.O_RDONLY)  # a write to it fails
    taking_r, taking_w = os.pipe()
    with pytest.raises(OSError):
        supervisor.join_cgroup([refusing, taking_w])
    for fd in (refusing, taking_w):
        with pytest.raises(OSError):
            os.fstat(fd)  # closed
    os.close(taking_r)


@pytest.mark.parametrize("version", [1, 2])
def test_a_cgroup_leaf_writes_the_limits_of_its_layout(tmp_path, monkeypatch, version):
    """The knobs a leaf sets, per layout (this machine has cgroup v1; v2's file names are
    pinned here, against a folder standing in for the hierarchy)."""
    from grader.sandbox import cgroup

    names = {"memory", "pids", "cpu"}
    found = [cgroup.Hierarchy(version, frozenset(names) if version == 2 else frozenset({name}),
                              tmp_path / name) for name in sorted(names)]
    for hierarchy in found:
        hierarchy.folder.mkdir()
    monkeypatch.setattr(cgroup, "usable", lambda: tuple(found[:1] if version == 2 else found))
    leaf = cgroup.create(memory_mb=100, max_tasks=72)
    folder = leaf.folders[0]
    written = {p.name: p.read_text() for f in leaf.folders for p in f.iterdir()}
    if version == 2:
        assert written == {"memory.max": str(100 << 20), "memory.swap.max": "0",
                           "memory.oom.group": "1", "pids.max": "72"}
        (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    else:
        assert written == {"memory.limit_in_bytes": str(100 << 20),
                           "memory.memsw.limit_in_bytes": str(100 << 20), "pids.max": "72"}
        (tmp_path / "memory" / folder.name / "memory.oom_control").write_text(
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    assert {"memory", "pids", "cpu"} <= leaf.controls and leaf.oom_kills() == 1
    entry = "cgroup.procs" if version == 2 else "tasks"  # v1: a thread moves itself, lock-free
    assert leaf.entry_files() == [str(f / entry) for f in leaf.folders]


# --- sandbox uids -----------------------------------------------------------------------

@needs_root
def test_each_sandbox_holds_its_own_uid_until_released(monkeypatch):
    first, second = uids.acquire(), uids.acquire()
    try:
        assert first.uid != second.uid
        lo, hi = uids.uid_range()
        assert lo <= first.uid <= hi and lo <= second.uid <= hi
        assert hi - lo > 1_000_000  # two graders on one host, each from a random place: apart
    finally:
        second.release()
    monkeypatch.setenv(uids.RANGE_ENV, f"{first.uid}-{first.uid + 1}")
    again = uids.acquire()
    try:
        assert again.uid == first.uid + 1  # first.uid is still held
    finally:
        again.release()
        first.release()


@needs_root
def test_a_uid_any_process_has_is_never_taken_and_nothing_is_killed(monkeypatch):
    """Two graders on one host: another's sandbox (here: a sleeper with a uid of the range)
    keeps its uid and lives; this grader takes the next one."""
    other = subprocess.Popen(["sleep", "30"], user=1_500_000, group=1_500_000, extra_groups=[])
    try:
        monkeypatch.setenv(uids.RANGE_ENV, "1500000-1500001")
        for _ in range(5):
            taken = uids.acquire()
            taken.release()
            assert taken.uid == 1_500_001
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_probe_that_is_killed_is_recorded_in_every_result_and_strict_refuses(tmp_path, monkeypatch):
    """A layer lost because its probe died (another grader's kill, the OOM killer) is not a
    property of the machine: it is recorded, and a strict rubric refuses."""
    killer = tmp_path / "python"
    killer.write_text("#!/bin/sh\nkill -9 $$\n")
    killer.chmod(0o755)
    monkeypatch.setenv(isolation.NO_BWRAP_ENV, "1")
    monkeypatch.setattr(sys, "executable", str(killer))
    isolation.available.cache_clear()
    try:
        found = isolation.available()
        assert "landlock" in found.failed and "killed by signal 9" in found.failed["landlock"]
        assert found.missing["seccomp"] == found.failed["seccomp"]
        with pytest.raises(Exception, match="the probe of .*landlock.* failed"):
            isolation.require_all_guarantees("proj1_filtering")
    finally:
        isolation.available.cache_clear()


def test_the_uid_check_reads_real_uids_that_a_process_name_cannot_forge():
    """``acquire`` trusts ``Uid:`` of ``/proc/PID/status``: a process that names
    itself ``x\\nUid:\\t4242`` must still read as this user's; a zombie and a process gone
    read as nobody's."""
    named = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                              "open('/proc/self/comm', 'wb').write(b'x\\nUid:\\t4242')\n"
                              "print(flush=True); time.sleep(30)"], stdout=subprocess.PIPE)
    zombie = subprocess.Popen(["true"])
    try:
        named.stdout.readline()  # renamed
        assert b"Uid:\t4242" in Path(f"/proc/{named.pid}/comm").read_bytes()
        assert uids._real_uid(named.pid) == os.getuid()
        while Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.01)
        assert uids._real_uid(zombie.pid) is None
    finally:
        named.kill()
        named.wait()
        zombie.wait()
    assert uids._real_uid(named.pid) is None


# --- the grader's state: sealed files, the gradebook ----------------------------------

def test_a_sealed_file_is_read_back_only_unchanged(tmp_path):
    path = tmp_path / "expected.npz"
    sealed.write(path, b"the answers")
    assert sealed.read(path) == b"the answers"
    path.write_bytes(b"forged answers")
    assert sealed.read(path) is None
    other = tmp_path / "other.npz"
    sealed.write(other, b"forged answers")
    path.with_name("expected.npz.mac").write_bytes(other.with_name("other.npz.mac").read_bytes())
    assert sealed.read(path) is None  # a MAC binds the name too
    path.with_name("expected.npz.mac").unlink()
    assert sealed.read(path) is None
    key = datapath.state_root() / "sealing.key"
    assert key.stat().st_mode & 0o777 == 0o600 and datapath.state_root().stat().st_mode & 0o077 == 0


def test_a_wrecked_expected_output_is_recomputed_not_believed(tmp_path, monkeypatch):
    import numpy as np

    from grader.prepare.expected import prepare
    from grader.rubric.load import load_rubric

    monkeypatch.setenv(datapath.CACHE_ENV, str(tmp_path / "cache"))
    rubric, digest = load_rubric(Path(__file__).parent / "hostile" / "rubric.yaml")
    first = prepare(rubric, digest)
    for path in (tmp_path / "cache" / "prepared").glob("*.npz"):  # what a poisoner would do
        with np.load(path) as bundle:
            zeros = {name: np.zeros_like(bundle[name]) for name in bundle.files}
        with open(path, "wb") as handle:
            np.savez(handle, **zeros)
    again = prepare(rubric, digest)
    for before, after in zip(first, again):
        for case_before, case_after in zip(before.cases, after.cases):
            for value, recomputed in zip(case_before.expected, case_after.expected):
                assert np.array_equal(value, recomputed) and np.any(recomputed)


def _result(student: str, score: float, finished_at: str) -> SubmissionResult:
    check = CheckResult("c", "c", "f", Status.PASSED if score else Status.FAILED, score, 1.0)
    return SubmissionResult(student=student, content_hash=f"h{score}", assignment="a",
                            rubric_hash="r", checks=[check], finished_at=finished_at)


def test_latest_is_the_last_recorded_not_the_latest_date(tmp_path):
    with Gradebook(tmp_path / "book.sqlite") as book:
        book.record(_result("ann", 1.0, "9999-12-31T23:59:59+00:00"))
        book.record(_result("ann", 0.0, "2026-12-01T10:00:00+00:00"))
        assert [r.score for r in book.latest()] == [0.0]
    assert (tmp_path / "book.sqlite").stat().st_mode & 0o777 == 0o600


# --- workspaces and temp folders -------------------------------------------------------

def test_a_workspace_copy_is_read_only_and_goes_with_its_base(tmp_path):
    zygote.close_all()  # idle warm workers' slots are folders of the base too
    (tmp_path / "sub" / "pkg").mkdir(parents=True)
    (tmp_path / "sub" / "pkg" / "student_code.py").write_text("x = 1\n")
    space = workspace.create(tmp_path / "sub")
    base = space.root.parent
    copied = space.submission / "pkg" / "student_code.py"
    assert copied.read_text() == "x = 1\n" and copied.stat().st_mode & 0o222 == 0
    assert (space.submission / "pkg").stat().st_mode & 0o222 == 0
    (space.scratch / "f").write_text("scratch is writable")
    space.clear_scratch()
    assert list(space.scratch.iterdir()) == []
    space.remove()
    assert not base.exists()


# --- the supervisor: the sandbox dies with the grader ----------------------------------

def test_removing_a_folder_never_opens_or_closes_the_folder_above_it(tmp_path):
    """A run folder that another grader's sweep removed first (or that vanished while it was
    listed) once made its parent, the system's /tmp, 0700 for every other uid."""
    above = tmp_path / "above"
    (above / "gone").mkdir(parents=True)
    above.chmod(0o755)
    workdirs.rmtree(above / "gone")
    workdirs.rmtree(above / "gone")  # already removed: the error handler runs on it
    assert above.stat().st_mode & 0o7777 == 0o755


def test_a_grader_killed_with_sigkill_takes_its_sandbox_with_it(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "student_code.py").write_text(textwrap.dedent("""
        import os, subprocess, time
        def spawn():
            subprocess.Popen(["sleep", "1000"], start_new_session=True)
            time.sleep(1000)
        """))
    script = textwrap.dedent(f"""
        from grader.sandbox import SandboxSession
        with SandboxSession({str(tmp_path / 'sub')!r}) as session:
            session.call("student_code", "spawn", [], 600)
        """)
    grader = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path)
    try:
        found = []
        for _ in range(100):
            found = _sleepers_of(grader.pid)
            if found:
                break
            time.sleep(0.1)
        assert found, "the sandbox never started its sleeper"
        grader.send_signal(signal.SIGKILL)
        grader.wait()
        for _ in range(50):
            if not any(_alive(pid) for pid in found):
                break
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in found)
    finally:
        grader.kill()


def _sleepers_of(root: int) -> list[int]:
    from grader.sandbox.processes import descendants

    return [pid for pid in descendants(root) if _cmdline(pid).startswith("sleep 1000")]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


# --- the submission's time budget ------------------------------------------------------

def test_the_time_budget_caps_limits_and_marks_what_is_left(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("grader.grading.time.monotonic", lambda: clock[0])
    budget = Budget(10.0)

    class Check:
        id, name, function, points, visibility = "late", "late check", "f", 2.0, "visible"

    assert budget.cap(60.0) == 10.0 and budget.spent_result(Check) is None
    clock[0] = 107.0
    assert budget.cap(60.0) == pytest.approx(3.0)
    clock[0] = 111.0
    spent = budget.spent_result(Check)
    assert spent.status == Status.TIMEOUT and spent.score == 0 and "time budget (10 s)" in spent.message
    timed_out = CheckResult("x", "x", "f", Status.TIMEOUT, 0.0, 1.0, "did not finish")
    assert "budget (10 s) ran out" in budget.blame(timed_out).message
    assert Budget(None).cap(60.0) == 60.0 and Budget(None).spent_result(Check) is None


# --- saying what protects a run ---------------------------------------------------------

@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_doctor_names_each_layer_and_guarantee():
    proc = run_grader("doctor", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data["layers"]) == set(isolation.layer_names())
    assert set(data["guarantees"]) == set(isolation.EXPLAINED)
    for layer in data["layers"].values():
        assert layer["available"] or layer["missing"]  # a missing layer says why
    text = run_grader("doctor").stdout
    assert "A submission cannot:" in text and "landlock" in text


def test_with_every_layer_off_doctor_and_a_strict_rubric_say_what_is_unprotected(tmp_path):
    env = {isolation.DISABLE_ENV: "all"}
    doctor = run_grader("doctor", "--strict", env=env)
    assert doctor.returncode == 1 and "NOT ensured here" in doctor.stdout
    rubric = tmp_path / "strict.yaml"
    hostile = Path(__file__).parent / "hostile"
    rubric.write_text((hostile / "rubric.yaml").read_text() + "isolation: strict\n")
    graded = run_grader("grade", str(rubric), str(hostile / "submissions" / "control_correct"),
                        "--db", str(tmp_path / "db.sqlite"), env=env)
    assert graded.returncode == 2
    assert "demands isolation: strict" in graded.stderr and "open a network connection" in graded.stderr
    with sqlite3.connect(tmp_path / "db.sqlite") as book:
        assert book.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0


def test_every_result_records_the_layers_that_held(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "student_code.py").write_text("def f():\n    return 1\n")
    with SandboxSession(tmp_path / "sub") as session:
        assert session.call("student_code", "f", [], 30).status == "returned"
        layers = set(session.layers)
    assert set(isolation.layers_here()) <= layers | {"cgroup"}
    assert workdirs.sweep_orphans() >= 0
