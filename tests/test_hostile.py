"""The hostile-submission corpus, graded by the real CLI (``grader grade``) in every isolation mode.

``tests/hostile/submissions/`` holds hostile and broken submissions (infinite loops,
SIGTERM-proof sleepers, process floods, memory bombs, forged output, lying arrays, escapes
from the sandbox, attacks on the grader's state and on other students, …); the archives and
links are built here at test time. Each one's expected verdict is in
``tests/hostile/verdicts.yaml``, per mode.

The whole corpus is graded by ONE ``python -m grader.cli grade`` call per mode:

- ``bubblewrap``: namespaces plus every other layer (skipped where bubblewrap cannot run);
- ``root``: no namespaces (``GRADER_NO_BWRAP=1``), the grader is root: the sandbox gets a uid
  of its own, Landlock, seccomp, the subreaper and a cgroup — Gradescope, containers, CI;
- ``user``: no namespaces, the grader runs as an ordinary user (started here as uid
  ``USER_UID`` when the test is root): Landlock, seccomp, the subreaper;
- ``limits``: resource limits and the parent's watchdog only (``GRADER_DISABLE_LAYERS=all``):
  the attacks that the layers stop must *succeed* here, which proves they are real.

Then every submission's result is compared with its verdict, and the run is checked for what
must never happen in the isolated modes: a batch stopped early, a process left behind, a file
written outside scratch, a network connection made, a pickled payload executed, a changed
expected-output cache or a forged gradebook row.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tarfile
import threading
import time
import uuid
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from grader.sandbox import isolation
from other_users import USER_UID, opened_for_other_users, reachable
from grader.worker.confine import landlock, seccomp

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)

REPO = Path(__file__).resolve().parents[1]
HOSTILE = REPO / "tests" / "hostile"
RUBRIC = HOSTILE / "rubric.yaml"
SUBMISSIONS = HOSTILE / "submissions"
VERDICTS: dict[str, dict] = yaml.safe_load((HOSTILE / "verdicts.yaml").read_text())
CHECK_IDS = [c["id"] for c in yaml.safe_load(RUBRIC.read_text())["checks"]]
FULL_MARKS = sum(c["points"] for c in yaml.safe_load(RUBRIC.read_text())["checks"])
MODES = ["bubblewrap", "root", "user", "limits"]
ISOLATED = ["bubblewrap", "root", "user"]

# What hostile processes carry, so that a survivor can be recognised: a process name set
# through /proc/self/comm, or argv[0] of an exec'd program.
COMM_MARKER = "HSTL_"
CMDLINE_MARKER = "HOSTILE_MARKER"

# Files the hostile submissions try to create outside their scratch folder.
WRITE_NAME = "grader_hostile_write_outside"
ESCAPE_TARGETS = [
    Path("/tmp") / WRITE_NAME, Path("/var/tmp") / WRITE_NAME, Path("/dev/shm") / WRITE_NAME,
    Path("/root") / WRITE_NAME, Path("/work/main") / WRITE_NAME,
    Path("/work/main/tests/hostile") / WRITE_NAME, REPO / WRITE_NAME, HOSTILE / WRITE_NAME,
    SUBMISSIONS / "write_outside_scratch" / WRITE_NAME,
    Path("/tmp/grader_hostile_pickle_executed"),
    Path("/tmp/grader_hostile_zip_slip.py"), Path("/tmp/grader_hostile_zip_absolute.py"),
    Path("/tmp/grader_hostile_tar_slip.py"),
    *[Path(folder) / name for folder in ("/tmp", "/dev/shm", "/var/tmp")
      for name in ("grader_hostile_warm_plant", "grader_hostile_warm_stolen")],
]
HOARDS = ["/dev/shm/hoard_*", "/tmp/hoard_*"]  # what tmpfs_memory_bomb leaves with limits only

BATCH_TIMEOUT_S = 400


def verdict_in(mode: str, name: str) -> dict:
    """The verdict of ``name`` in ``mode``: the default, with the mode's override."""
    verdict = VERDICTS[name]
    return {**verdict, **verdict.get(mode, {})} if mode == "limits" else verdict


def names_for(mode: str, sequence: str = "") -> list[str]:
    """The corpus graded in ``mode`` (the Gradescope-only entries run in test_gradescope.py);
    with ``sequence`` (``warm`` or ``environment``), the entries of that sequence instead,
    graded one after another by one worker."""
    return sorted(name for name, verdict in VERDICTS.items()
                  if mode not in verdict.get("skip", []) and not verdict.get("gradescope_only")
                  and verdict.get("sequence", "") == sequence)


# --- the corpus as graded: folders copied, archives and links built -----------------

CORRECT_CODE = (SUBMISSIONS / "control_correct" / "student_code.py").read_bytes()


def _zip_symlink(bundle: zipfile.ZipFile, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, so that the mode bits below are honoured
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    bundle.writestr(info, target)


def _tar_add(bundle: tarfile.TarFile, name: str, data: bytes = b"", link: str | None = None) -> None:
    info = tarfile.TarInfo(name)
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
        bundle.addfile(info)
    else:
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))


def build_corpus(corpus: Path, names: list[str]) -> None:
    """Copy the folder submissions of ``names`` (with attack.py where asked) and build the
    archive and link submissions into ``corpus``."""
    for name in names:
        if (SUBMISSIONS / name).is_dir():
            shutil.copytree(SUBMISSIONS / name, corpus / name)
            if VERDICTS[name].get("attack_kit"):
                shutil.copyfile(HOSTILE / "attack.py", corpus / name / "attack.py")
    if any(VERDICTS[name].get("archive") or VERDICTS[name].get("built") for name in names):
        build_archives(corpus)


def build_archives(corpus: Path) -> None:
    """Write the archive and link submissions of verdicts.yaml into ``corpus``.

    Each holds a correct ``student_code.py`` (or a link to the reference), so that an
    archive that got through would earn points: the verdict asserts it earns none.
    """
    reference = str(REPO / "reference" / "filtering.py")
    with zipfile.ZipFile(corpus / "zip_slip.zip", "w") as bundle:
        bundle.writestr("student_code.py", CORRECT_CODE)
        bundle.writestr("../../grader_hostile_zip_slip.py", CORRECT_CODE)
        bundle.writestr("../" * 12 + "tmp/grader_hostile_zip_slip.py", CORRECT_CODE)
    with zipfile.ZipFile(corpus / "zip_absolute.zip", "w") as bundle:
        bundle.writestr("student_code.py", CORRECT_CODE)
        bundle.writestr("/tmp/grader_hostile_zip_absolute.py", CORRECT_CODE)
    with zipfile.ZipFile(corpus / "zip_symlink.zip", "w") as bundle:
        _zip_symlink(bundle, "student_code.py", reference)
        _zip_symlink(bundle, "passwd", "/etc/passwd")
    with zipfile.ZipFile(corpus / "zip_bomb.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        bundle.writestr("student_code.py", CORRECT_CODE)
        zeros = bytes(1 << 20)
        with bundle.open("data/zeros.bin", "w") as member:
            for _ in range(300):  # 300 MiB inflated, ~300 KiB compressed
                member.write(zeros)
    with zipfile.ZipFile(corpus / "zip_many_members.zip", "w") as bundle:
        bundle.writestr("student_code.py", CORRECT_CODE)
        for index in range(2500):
            bundle.writestr(f"junk/{index}.txt", b"")
    with tarfile.open(corpus / "tar_slip.tar.gz", "w:gz") as bundle:
        _tar_add(bundle, "student_code.py", CORRECT_CODE)
        _tar_add(bundle, "../grader_hostile_tar_slip.py", CORRECT_CODE)
        _tar_add(bundle, "../" * 12 + "tmp/grader_hostile_tar_slip.py", CORRECT_CODE)
    with tarfile.open(corpus / "tar_symlink.tar.gz", "w:gz") as bundle:
        _tar_add(bundle, "student_code.py", link=reference)
    folder = corpus / "folder_symlink"
    folder.mkdir()
    (folder / "student_code.py").symlink_to(reference)
    with zipfile.ZipFile(corpus / "pyc_smuggle.zip", "w") as bundle:
        bundle.writestr("student_code.py", INNOCENT_CODE)
        bundle.writestr(f"__pycache__/student_code.{sys.implementation.cache_tag}.pyc",
                        unchecked_bytecode(SUBMISSIONS / "forbidden_call" / "student_code.py"))


INNOCENT_CODE = (b"import numpy as np\n\n\ndef my_imfilter(image, filter):\n"
                 b"    return np.zeros_like(image)\n\n\n"
                 b"def create_hybrid_image(image1, image2, filter):\n"
                 b"    zeros = np.zeros_like(image1)\n    return zeros, zeros, zeros\n")


def unchecked_bytecode(source: Path) -> bytes:
    """``source`` compiled to an unchecked-hash .pyc: Python imports it in place of any
    ``student_code.py`` beside it, without looking at that file."""
    import py_compile
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "out.pyc"
        py_compile.compile(str(source), cfile=str(target), doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        return target.read_bytes()


# --- observers: network servers, a process scan, the grader's state ----------------

class Listener:
    """TCP and UDP (echoing) servers on 127.0.0.1 and Unix sockets (by path, abstract); counts who reaches them."""

    def __init__(self, folder: Path):
        self.connections: list[str] = []
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.abstract_name = f"grader_hostile_{uuid.uuid4().hex}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract_name)
        self.unix.listen()
        self.unix_path = str(folder / "listener.sock")
        self.by_path = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.by_path.bind(self.unix_path)
        os.chmod(self.unix_path, 0o777)
        self.by_path.listen()
        self._threads = [threading.Thread(target=self._serve, args=(s, kind), daemon=True)
                         for s, kind in ((self.tcp, "tcp"), (self.unix, "unix"),
                                         (self.by_path, "unix-path"))]
        self._threads.append(threading.Thread(target=self._receive, daemon=True))
        for thread in self._threads:
            thread.start()

    def address_line(self) -> str:
        return (f"{self.tcp.getsockname()[1]} {self.udp.getsockname()[1]} {self.unix_path} "
                f"{self.abstract_name}\n")

    def _serve(self, server: socket.socket, kind: str) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            self.connections.append(kind)
            conn.close()

    def _receive(self) -> None:
        while True:
            try:
                data, sender = self.udp.recvfrom(64)
                if not data:  # woken by close()
                    return
                self.connections.append("udp")
                self.udp.sendto(b"answer\n", sender)
            except OSError:
                return

    def close(self) -> None:
        for server in (self.tcp, self.udp, self.unix, self.by_path):
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()


def marked_processes(needles: list[str]) -> dict[int, str]:
    """Live (non-zombie) processes whose name or command line carries a marker."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/comm") as handle:
                comm = handle.read().strip()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state in (b"Z", b"X"):
            continue
        if comm.startswith(COMM_MARKER) or any(n in cmdline for n in needles):
            found[int(entry)] = f"{comm}: {cmdline[:200]}"
    return found


def file_digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def forged_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as book:
        return book.execute("SELECT student, content_hash FROM results "
                            "WHERE content_hash = 'forged' OR graded_at LIKE '9999%'").fetchall()


# --- the modes: how each is started, and whether this machine can run it --------------

def mode_problem(mode: str) -> str | None:
    """Why ``mode`` cannot run here (``None`` when it can)."""
    if mode == "bubblewrap":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the fallback sentence: this test says it itself
            isolation.available.cache_clear()
            try:
                works = isolation.available().has("bubblewrap")
            finally:
                isolation.available.cache_clear()
        return None if works else "bubblewrap cannot create namespaces here"
    if mode == "root" and os.geteuid() != 0:
        return "the root mode needs the test to run as root"
    if mode == "user" and os.geteuid() == 0 and not reachable():
        return (f"uid {USER_UID} cannot run this Python and the harness, even with search "
                "permission on the folders above them")
    return None


@pytest.fixture(scope="module", autouse=True)
def _other_users_may_run_python():
    """The uid layer and the user mode need other uids to reach this Python: opened for this
    module's duration where it lives under a private folder (tests/other_users.py)."""
    with opened_for_other_users():
        yield


def mode_environment(mode: str, base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in (isolation.NO_BWRAP_ENV, isolation.DISABLE_ENV)}
    env |= {"TMPDIR": str(base / "tmp"), "GRADER_CACHE": str(base / "cache"),
            "GRADER_DATA": str(base / "data")}
    if mode in ("root", "user"):
        env[isolation.NO_BWRAP_ENV] = "1"
    if mode == "limits":
        env[isolation.DISABLE_ENV] = "all"
    if mode == "user":
        env["HOME"] = str(base)
    return env


def expected_layers(mode: str) -> set[str]:
    """The layers a sandbox must report in ``mode`` on this machine (read off the kernel)."""
    if mode == "limits":
        return set()
    have = {"subreaper"}
    if landlock.abi() >= 1:
        have.add("landlock-filesystem")
    if landlock.abi() >= 6:
        have.add("landlock-signals")
    if seccomp.available():
        have.add("seccomp")
    if mode == "bubblewrap":
        have.add("bubblewrap")
    if os.geteuid() == 0 and mode in ("bubblewrap", "root") and reachable():
        have.add("uid")
    return have


# --- one graded run per mode --------------------------------------------------------

@dataclass
class Run:
    mode: str
    names: list[str]
    returncode: int
    output: str
    seconds: float
    results: dict[str, dict]
    students: list[str]
    leftovers: dict[int, str]
    stray_files: list[str]
    temp_left: list[str]
    connections: list[str]
    db: Path
    json_path: Path
    cache_before: dict[str, str]
    cache_after: dict[str, str]
    env: dict[str, str]


SEQUENCES = ("warm", "environment")


def _graded_fixture(mode: str, sequence: str):
    @pytest.fixture(scope="module", name=f"graded_{sequence + '_' if sequence else ''}{mode}")
    def graded_once(tmp_path_factory) -> Run:
        return _grade_corpus(mode, tmp_path_factory, sequence)

    return graded_once


for _mode in MODES:  # graded_bubblewrap, …, graded_warm_bubblewrap, graded_environment_root, …
    for _sequence in ("", *SEQUENCES):
        globals()[f"graded_{_sequence + '_' if _sequence else ''}{_mode}"] = \
            _graded_fixture(_mode, _sequence)


@pytest.fixture
def graded(request) -> Run:
    """The run of the mode this test is parametrised with (each mode is graded once)."""
    return request.getfixturevalue(f"graded_{request.param}")


@pytest.fixture
def graded_sequence(request) -> Run:
    """A sequence's entries in a mode (the test's parameter: ``(sequence, mode)``), graded in
    name order by one worker (so one warm worker forks every one of them where the mode
    allows it; the environment sequence runs in a course environment of its own)."""
    sequence, mode = request.param
    return request.getfixturevalue(f"graded_{sequence}_{mode}")


ENVIRONMENT = """name: hostile_env
description: "the hostile corpus's course environment: the harness's own packages, inherited"
requirements: ["numpy"]
inherit_harness: true
"""


def in_environment(base: Path, env: dict[str, str]) -> Path:
    """The corpus rubric with ``environment: hostile_env`` (a venv that inherits the harness's
    packages, built under ``base`` at the first grading), beside its definition."""
    folder = base / "rubric"
    (folder / "environments").mkdir(parents=True)
    (folder / "environments" / "hostile_env.yaml").write_text(ENVIRONMENT)
    text = RUBRIC.read_text().replace("\nreference:", "\nenvironment: hostile_env\nreference:", 1)
    (folder / "rubric.yaml").write_text(text)
    env["GRADER_ENVS"] = str(base / "envs")
    os.chmod(base, 0o711)
    open_to_other_users(base)
    return folder / "rubric.yaml"


def _prepare_base(base: Path, names: list[str], listener: Listener) -> Path:
    corpus = base / "corpus"
    for folder in (corpus, base / "tmp", base / "cache", base / "data" / "proj6"):
        folder.mkdir(parents=True)
    (base / "data" / "proj6" / "labels.txt").write_text("a labelled test set\n")
    build_corpus(corpus, names)
    if "network_exfil" in names:
        (corpus / "network_exfil" / "port.txt").write_text(listener.address_line())
    return corpus


def _as_mode_user(mode: str, base: Path) -> dict:
    """``subprocess`` options that start the grader as the mode's user (and give it ``base``)."""
    if mode != "user" or os.geteuid() != 0:
        return {}
    for path in [base, *base.rglob("*")]:
        os.lchown(path, USER_UID, USER_UID)
    os.chmod(base, 0o755)
    open_to_other_users(base)
    return {"user": USER_UID, "group": USER_UID, "extra_groups": []}


def open_to_other_users(base: Path) -> None:
    """Let other uids pass through the folders above ``base`` (pytest's temp folders are
    root's 0700): the mode's user, or the sandbox's own uid on its way to a course environment."""
    for parent in base.parents:
        if str(parent) in ("/", "/tmp"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o711)


def _grade_corpus(mode: str, tmp_path_factory, sequence: str = "") -> Run:
    problem = mode_problem(mode)
    if problem:
        pytest.skip(problem)
    names = names_for(mode, sequence)
    base = tmp_path_factory.mktemp(f"hostile_{sequence + '_' if sequence else ''}{mode}")
    listener = Listener(base)
    corpus = _prepare_base(base, names, listener)
    for path in ESCAPE_TARGETS:
        path.unlink(missing_ok=True)
    env = mode_environment(mode, base)
    rubric = RUBRIC if sequence != "environment" else in_environment(base, env)
    who = _as_mode_user(mode, base)
    needles = [CMDLINE_MARKER, str(base / "tmp")]
    before = set(marked_processes(needles))
    db, json_path = base / "gradebook.sqlite", base / "results.json"
    prepared = subprocess.run([sys.executable, "-m", "grader.cli", "prepare", str(rubric)],
                              env=env, cwd=base, capture_output=True, text=True, **who)
    assert prepared.returncode == 0, prepared.stderr
    cache_before = file_digests(base / "cache")

    open_to_other_users(base)  # again: a pytest run elsewhere on this machine closes its root
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "grader.cli", "grade", str(rubric), str(corpus),
             "--db", str(db), "--json", str(json_path), *(["--workers", "1"] if sequence else [])],
            env=env, cwd=base, capture_output=True, text=True, timeout=BATCH_TIMEOUT_S, **who)
        returncode, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = -1
        output = f"the batch did not finish within {BATCH_TIMEOUT_S} s\n{exc.stdout}{exc.stderr}"
    seconds = time.perf_counter() - started
    leftovers = _survivors(needles, before)
    listener.close()
    time.sleep(0.5)  # a late rewrite (limits mode) lands within a few tenths of a second

    stray = [str(p) for p in ESCAPE_TARGETS if p.exists() or p.is_symlink()]
    stray += [str(p) for p in (db.with_name(db.name + ".tampered"),
                               json_path.with_name(json_path.name + ".tampered"))
              if p.exists()]
    stray += [str(p) for p in base.rglob("grader_hostile_*")]
    # the folders above a sandbox's scratch: its workspace and the grader's base (a root
    # grader's is in /tmp, where every uid may pass)
    stray += [str(p) for pattern in ("grader-run-*/grader_hostile_*", "grader-run-*/*/grader_hostile_*")
              for p in Path("/tmp").glob(pattern)]
    for path in stray:
        Path(path).unlink(missing_ok=True)
    for pattern in HOARDS:
        for path in Path(pattern).parent.glob(Path(pattern).name):
            path.unlink(missing_ok=True)

    results, students = {}, []
    if json_path.exists():
        for item in json.loads(json_path.read_text()):
            students.append(item["student"])
            results[item["student"]] = item
    run = Run(mode, names, returncode, output, seconds, results, students, leftovers, stray,
              sorted(p.name for p in (base / "tmp").iterdir()), list(listener.connections),
              db, json_path, cache_before, file_digests(base / "cache"), env)
    print(f"\n[{mode}] graded {len(names)} submissions in {seconds:.1f} s")
    return run


def _survivors(needles: list[str], before: set[int]) -> dict[int, str]:
    """Marked processes still alive up to 5 s after the batch; killed here (after noting them)."""
    leftovers: dict[int, str] = {}
    for _ in range(50):
        leftovers = {p: c for p, c in marked_processes(needles).items() if p not in before}
        if not leftovers:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # with limits only, let a surviving daemon do what it came for
    for pid in leftovers:  # the harness left them (a bug in isolated modes): clean up after it
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return leftovers


def _pairs() -> list:
    return [pytest.param(mode, name, id=f"{mode}-{name}") for mode in MODES for name in names_for(mode)]


def _in_sequences(modes: list[str] = MODES, sequences=SEQUENCES) -> list:
    return [pytest.param((sequence, mode), id=f"{sequence}-{mode}")
            for sequence in sequences for mode in modes]


# --- the batch as a whole -----------------------------------------------------------

@pytest.mark.parametrize("graded", MODES, indirect=True)
def test_batch_finishes_and_grades_everything(graded: Run):
    assert graded.returncode == 0, graded.output[-4000:]
    assert sorted(graded.students) == sorted(graded.names), graded.output[-4000:]
    assert len(graded.students) == len(set(graded.students))


@pytest.mark.parametrize("graded", MODES, indirect=True)
def test_sandbox_mode_and_layers_are_the_ones_asked_for(graded: Run):
    expected = "bubblewrap" if graded.mode == "bubblewrap" else "subprocess"
    started = {s: r for s, r in graded.results.items() if not VERDICTS[s].get("archive")}
    assert started and all(r["sandbox"] == expected for r in started.values())
    wanted = expected_layers(graded.mode)
    for student, result in started.items():
        if result["isolation"]:  # empty where no worker started (an import-less error)
            assert wanted <= set(result["isolation"]), (student, result["isolation"], wanted)
        if graded.mode == "limits" or graded.mode == "user":
            assert "uid" not in result["isolation"]
    if graded.mode == "limits":
        assert all(not r["isolation"] for r in started.values())


@pytest.mark.parametrize("graded", ISOLATED, indirect=True)
def test_no_process_left_behind(graded: Run):
    assert graded.leftovers == {}


@pytest.mark.parametrize("graded", ISOLATED, indirect=True)
def test_no_file_left_outside_scratch(graded: Run):
    assert graded.stray_files == []
    # every sandbox workspace and extracted submission was removed
    assert graded.temp_left == []


@pytest.mark.parametrize("graded", ISOLATED, indirect=True)
def test_no_network_connection_made(graded: Run):
    assert graded.connections == []


@pytest.mark.parametrize("graded", ISOLATED, indirect=True)
def test_expected_outputs_and_gradebook_are_untouched(graded: Run):
    assert graded.cache_after == graded.cache_before
    assert forged_rows(graded.db) == []
    with sqlite3.connect(graded.db) as book:
        recorded = dict(book.execute("SELECT student, score FROM results").fetchall())
    assert recorded == {s: r["score"] for s, r in graded.results.items()}


@pytest.mark.parametrize("graded", MODES, indirect=True)
def test_printed_output_is_bounded_in_the_gradebook(graded: Run):
    # huge_stdout printed 120 MiB per call, ~600 MiB in all: the capture keeps kilobytes
    assert graded.db.stat().st_size < 4 << 20
    assert graded.json_path.stat().st_size < 1 << 20


# --- what resource limits alone let through (the attacks are real) ----------------

@pytest.mark.parametrize("graded", ["limits"], indirect=True)
def test_with_limits_only_the_attacks_get_through(graded: Run):
    assert forged_rows(graded.db), "gradebook_forge could not forge a row even without isolation"
    assert {"tcp", "udp", "unix-path", "unix"} <= set(graded.connections)
    assert graded.leftovers, "daemon_escape and late_rewrite left nothing behind"


# --- one verdict per submission ----------------------------------------------------

@pytest.mark.parametrize("graded,name", _pairs(), indirect=["graded"])
def test_verdict(graded: Run, name: str):
    assert_verdict(graded, name)


def assert_verdict(graded: Run, name: str) -> None:
    """``name``'s result in ``graded`` is its verdict in that mode (verdicts.yaml)."""
    verdict = verdict_in(graded.mode, name)
    result = graded.results.get(name)
    assert result is not None, f"{name} is missing from the results:\n{graded.output[-3000:]}"
    checks = {c["id"]: c for c in result["checks"]}
    assert sorted(checks) == sorted(CHECK_IDS)
    wanted = verdict["status"]
    for check_id, check in checks.items():
        allowed = wanted.get(check_id) if isinstance(wanted, dict) else wanted
        allowed = allowed if isinstance(allowed, list) else [allowed]
        assert check["status"] in allowed, (
            f"{name}/{check_id}: {check['status']} ({check['message']}); expected {allowed}: "
            f"{verdict['why']}")
        if check["status"] != "passed":
            assert check["score"] == 0, f"{name}/{check_id} scored without passing: {check}"
        if check_id in verdict.get("message", {}):
            assert verdict["message"][check_id] in check["message"], check["message"]
    assert result["score"] == verdict["score"], (
        f"{name} scored {result['score']}/{FULL_MARKS}, expected {verdict['score']}: "
        f"{verdict['why']}\n" + "\n".join(f"  {c['id']}: {c['status']} {c['message']}"
                                         for c in result["checks"]))
    if verdict.get("archive"):  # refused before any student code ran
        assert result["sandbox"] == "not started", result["sandbox"]


# --- one sandbox after another: what a warm worker must not carry over ---------------

@pytest.mark.parametrize("graded_sequence,name", [
    pytest.param((sequence, mode), name, id=f"{sequence}-{mode}-{name}")
    for sequence in SEQUENCES for mode in MODES for name in names_for(mode, sequence)],
    indirect=["graded_sequence"])
def test_verdict_in_sequence(graded_sequence: Run, name: str):
    assert_verdict(graded_sequence, name)


@pytest.mark.parametrize("graded_sequence", _in_sequences(), indirect=True)
def test_a_sequence_is_forked_warm_where_every_layer_holds(graded_sequence: Run):
    assert graded_sequence.returncode == 0, graded_sequence.output[-4000:]
    assert sorted(graded_sequence.students) == sorted(graded_sequence.names)
    warm = {student: result["warm"] for student, result in graded_sequence.results.items()}
    assert all(warm.values()) if graded_sequence.mode in ISOLATED else not any(warm.values()), warm


@pytest.mark.parametrize("graded_sequence", _in_sequences(ISOLATED), indirect=True)
def test_a_sequence_leaves_nothing_behind(graded_sequence: Run):
    assert graded_sequence.leftovers == {}
    assert graded_sequence.stray_files == []
    assert graded_sequence.temp_left == []


@pytest.mark.parametrize("graded_sequence", _in_sequences(["limits"], ["warm"]), indirect=True)
def test_with_limits_only_a_sandbox_reaches_the_next(graded_sequence: Run):
    # the plant's daemon outlived its sandbox and copied the victim's code (then left)
    assert graded_sequence.results["warm_3_reader"]["score"] == FULL_MARKS
    assert any("warm_plant" in path for path in graded_sequence.stray_files)


@pytest.mark.parametrize("graded_sequence", _in_sequences(sequences=["environment"]),
                         indirect=True)
def test_the_environment_sequence_runs_in_its_course_environment(graded_sequence: Run):
    for student, result in graded_sequence.results.items():
        assert result["versions"].get("environment") == "hostile_env", (student, result["versions"])
