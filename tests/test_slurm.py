"""``grader grade --cluster slurm`` on a real single-node SLURM started for these tests.

The fixture installs nothing: it runs Debian's ``slurm-wlm`` and ``munge`` (``apt-get install
-y slurm-wlm munge``) from a temporary folder: a munge key made there and ``munged`` on its own
socket, a ``slurm.conf`` with one node named after this machine (``hostname -s``), its state,
spool, logs and pid files there too, and ``slurmctld`` and ``slurmd`` in the foreground; at the
end every job is cancelled and every process of that SLURM is killed. SLURM's jobs run as
the user who submits them, and only root's ``slurmd`` can start them: the tests skip unless
root, and where the programs are absent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import run_grader
from test_batch import RUBRIC, _make_batch, _rows, _rows_so_far

from grader.batch import slurm as slurm_jobs
from grader.batch.slurm import SlurmJobs, SlurmOptions
from grader.cli._slurm import jobs_for
from grader.errors import GraderError

PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "scancel", "squeue", "sinfo")
JOB = ("--cluster", "slurm", "--slurm-cores", "1", "--slurm-memory", "1GB")
SLURM_CONF = """\
ClusterName=gradertest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={socket}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
KillWait=5
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=2000 State=UNKNOWN
PartitionName=grading Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@dataclass
class Slurm:
    """A running private SLURM: its ``slurm.conf``, the folder its jobs write their output
    to, and ``jobqueue``, a ``--slurm-config`` file that puts the workers on the loopback
    and their output in ``logs``."""

    conf: Path
    logs: Path

    @property
    def env(self) -> dict[str, str]:
        """For the grader: this SLURM, and a lost worker given up after 2 s instead of 15."""
        return {"SLURM_CONF": str(self.conf), "DASK_DISTRIBUTED__DEPLOY__LOST_WORKER_TIMEOUT": "2s"}

    @property
    def jobqueue(self) -> Path:
        return self.config(self.conf.parent / "jobqueue.yaml")

    def config(self, path: Path, **extra: object) -> Path:
        """A ``--slurm-config`` file with ``extra`` settings besides the interface and logs."""
        settings = {"interface": "lo", "log-directory": str(self.logs), **extra}
        path.write_text(json.dumps({"jobqueue": {"slurm": settings}}))  # JSON is YAML
        return path

    def run(self, *command: str) -> str:
        return subprocess.run(command, env={**os.environ, **self.env}, capture_output=True,
                              text=True, timeout=60, check=True).stdout

    def queued(self) -> list[str]:
        """The ids of the jobs pending or running."""
        return self.run("squeue", "--noheader", "--format=%i").split()

    def wait_until_empty(self) -> None:
        """Return once no job is queued, running or completing (the grader cancels its own)."""
        _wait_for(lambda: not self.queued(), 30, lambda: f"jobs left: {self.queued()}")

    def jobs_seen(self) -> set[str]:
        """The ids of every job that has written output."""
        return {path.stem.rsplit("-", 1)[1] for path in self.logs.glob("*.err")}


@pytest.fixture(scope="module")
def slurm(tmp_path_factory) -> Iterator[Slurm]:
    missing = [name for name in PROGRAMS if shutil.which(name) is None]
    if missing:
        pytest.skip(f"Debian's slurm-wlm and munge are not installed (no {', '.join(missing)}): "
                    "apt-get install -y slurm-wlm munge")
    if os.geteuid() != 0:
        pytest.skip("a private SLURM needs root: only root's slurmd starts jobs")
    root = tmp_path_factory.mktemp("slurm")
    for folder in ("state", "spool", "log", "logs", "munge"):
        (root / folder).mkdir()
    conf = root / "slurm.conf"
    started: list[subprocess.Popen] = []
    try:
        started.append(_start_munged(root))
        _wait_for(lambda: (root / "munge" / "socket").exists(), 10, lambda: _logs(root))
        conf.write_text(SLURM_CONF.format(
            host=socket.gethostname().split(".")[0], root=root, socket=root / "munge" / "socket",
            ctld_port=_free_port(), d_port=_free_port(), cpus=os.cpu_count() or 1))
        env = {**os.environ, "SLURM_CONF": str(conf)}
        for daemon in ("slurmctld", "slurmd"):
            with open(root / "log" / f"{daemon}.out", "wb") as out:
                started.append(subprocess.Popen([daemon, "-D", "-f", str(conf)], env=env,
                                                stdout=out, stderr=subprocess.STDOUT))
        cluster = Slurm(conf, root / "logs")
        _wait_for(lambda: cluster.run("sinfo", "--noheader", "--format=%T").strip() == "idle",
                  30, lambda: _logs(root))
        yield cluster
    finally:
        _stop(conf, started)


def _start_munged(root: Path) -> subprocess.Popen:
    """``munged`` with a key made here, on a socket of its own (``--force``: it would refuse
    a key and a socket outside /etc/munge and /run/munge); its socket comes soon after."""
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    munge = root / "munge"
    return subprocess.Popen(
        ["munged", "--foreground", "--force", f"--socket={munge / 'socket'}",
         f"--key-file={key}", f"--pid-file={munge / 'munged.pid'}",
         f"--seed-file={munge / 'seed'}", f"--log-file={root / 'log' / 'munged.log'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(ready, seconds: float, said) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except subprocess.SubprocessError:
            pass
        time.sleep(0.2)
    pytest.fail(f"not there after {seconds} s:\n{said()}")


def _logs(root: Path) -> str:
    return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
                     for path in sorted((root / "log").glob("*")))


def _stop(conf: Path, daemons: list[subprocess.Popen]) -> None:
    """Cancel every job, end the daemons, then kill what is left of this SLURM: the jobs'
    step daemons and workers, which carry ``SLURM_CONF`` pointing at ``conf``."""
    env = {**os.environ, "SLURM_CONF": str(conf)}
    if len(daemons) > 1:  # slurmctld started
        subprocess.run(["scancel", "--user", str(os.getuid())], env=env, capture_output=True,
                       timeout=30)
    for daemon in reversed(daemons):
        daemon.terminate()
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    marker = f"SLURM_CONF={conf}\0".encode()
    for pid in _processes_with(marker):
        os.kill(pid, signal.SIGKILL)


def _processes_with(marker: bytes) -> list[int]:
    """Processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _gradebook(db: Path) -> dict[str, tuple]:
    """Each student's score and checks (id, status, score, message), from their one row."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT student, result_json FROM results").fetchall()
    book = {}
    for student, text in rows:
        assert student not in book, f"{student} graded twice"
        result = json.loads(text)
        book[student] = (result["score"], [(c["id"], c["status"], c["score"], c["message"])
                                           for c in result["checks"]])
    return book


def _grade(slurm: Slurm, batch: Path, db: Path, *flags: str) -> subprocess.CompletedProcess:
    proc = run_grader("grade", RUBRIC, str(batch), "--db", str(db), *flags, env=slurm.env,
                      timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.slow
def test_forty_submissions_graded_in_slurm_jobs_match_a_local_run(slurm, tmp_path):
    batch = _make_batch(tmp_path / "batch", 40)
    _grade(slurm, batch, tmp_path / "local.sqlite", "--workers", "1")
    before = slurm.jobs_seen()
    started = time.monotonic()
    proc = _grade(slurm, batch, tmp_path / "slurm.sqlite", *JOB, "--slurm-jobs", "2",
                  "--slurm-config", str(slurm.jobqueue))
    print(f"40 submissions in 2 SLURM jobs: {time.monotonic() - started:.1f} s; "
          + proc.stdout.splitlines()[-1])
    local = _gradebook(tmp_path / "local.sqlite")
    assert len(local) == 40 and _gradebook(tmp_path / "slurm.sqlite") == local
    assert len(slurm.jobs_seen() - before) == 2
    slurm.wait_until_empty()  # the grader cancelled its jobs


@pytest.mark.slow
def test_a_job_cancelled_mid_batch_is_replaced_and_every_student_is_graded_once(slurm, tmp_path):
    """One job, ``scancel``-ed while it grades: what it was grading is graded again by the job
    submitted in its place, and the gradebook ends with each student once."""
    batch = _make_batch(tmp_path / "slow", 12, slow_s=0.3)
    db = tmp_path / "cancel.sqlite"
    command = [sys.executable, "-m", "grader.cli", "grade", RUBRIC, str(batch), "--db", str(db),
               *JOB, "--slurm-config", str(slurm.jobqueue)]
    before = slurm.jobs_seen()
    proc = subprocess.Popen(command, env={**os.environ, **slurm.env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        _wait_for(lambda: len(_rows_so_far(db)) >= 2, 120, lambda: "no result recorded")
        [victim] = slurm.queued()
        slurm.run("scancel", victim)
        graded_before = len(_rows(db))
        output, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, output
    assert graded_before < 12
    assert sorted(student for student, *_ in _rows(db)) == [f"s{i:02d}" for i in range(12)]
    assert {student: score for student, (score, _) in _gradebook(db).items()} == {
        f"s{i:02d}": 2.0 if i % 2 == 0 else 1.0 for i in range(12)}
    assert len(slurm.jobs_seen() - before) == 2 and victim in slurm.jobs_seen() - before
    slurm.wait_until_empty()


@pytest.mark.slow
def test_jobs_that_end_before_their_workers_connect_are_one_sentence(slurm, tmp_path):
    config = slurm.config(tmp_path / "broken.yaml", **{"job-script-prologue": ["exit 3"]})
    batch = _make_batch(tmp_path / "batch", 1)
    proc = run_grader("grade", RUBRIC, str(batch), "--db", str(tmp_path / "db.sqlite"), *JOB,
                      "--slurm-config", str(config), env=slurm.env, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "ended before any Dask worker connected" in proc.stderr
    assert str(slurm.logs) in proc.stderr and "grader.cli doctor" in proc.stderr
    slurm.wait_until_empty()


@pytest.mark.slow
def test_a_job_the_cluster_would_refuse_is_said_before_anything_is_submitted(slurm, tmp_path):
    batch = _make_batch(tmp_path / "batch", 1)
    before = slurm.jobs_seen()
    proc = run_grader("grade", RUBRIC, str(batch), "--db", str(tmp_path / "db.sqlite"), *JOB,
                      "--slurm-partition", "nowhere", env=slurm.env, timeout=120)
    assert proc.returncode == 2
    assert "sbatch refuses the grading job" in proc.stderr and "partition" in proc.stderr
    assert slurm.jobs_seen() == before


# --- the settings, without a cluster ---------------------------------------------------------

@pytest.fixture
def sbatch_anywhere(monkeypatch):
    """SlurmJobs as on a login node: dask-jobqueue present and ``sbatch`` on the PATH."""
    pytest.importorskip("dask_jobqueue")
    which = shutil.which
    monkeypatch.setattr(slurm_jobs.shutil, "which",
                        lambda name: "/usr/bin/sbatch" if name == "sbatch" else which(name))


def test_the_settings_come_from_the_config_file_under_the_flags(sbatch_anywhere, tmp_path):
    config = tmp_path / "jobqueue.yaml"
    config.write_text("jobqueue:\n  slurm:\n    queue: cpu\n    cores: 4\n    memory: 16GB\n"
                      "    job-extra-directives: ['--constraint=avx2']\n")
    jobs = SlurmJobs(SlurmOptions(partition="gpu", cores=8, gpus=2, jobs=3, config=config))
    arguments = jobs.arguments({"distributed.worker.profile.enabled": False})
    assert (jobs.workers, jobs.threads) == (6, 4)  # a worker a GPU, the cores shared
    assert arguments["queue"] == "gpu" and arguments["cores"] == 8
    assert arguments["memory"] == "16GB" and arguments["processes"] == 2
    assert arguments["python"] == sys.executable
    assert arguments["job_extra_directives"] == ["--constraint=avx2", "--gres=gpu:2"]
    assert arguments["worker_extra_args"] == ["--resources", "GPU=1"]
    assert arguments["job_script_prologue"] == [
        "export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False"]
    cpu = SlurmJobs(SlurmOptions(cores=8, memory="8GB", jobs=2))
    assert (cpu.workers, cpu.threads, cpu.arguments({})["processes"]) == (16, 1, 8)


@pytest.mark.parametrize("options, said", [
    (SlurmOptions(cores=4), "needs the cores and memory of a job"),
    (SlurmOptions(cores=1, memory="4GB", gpus=2), "needs at least 2 cores a job"),
])
def test_incomplete_settings_are_one_sentence(sbatch_anywhere, options, said):
    with pytest.raises(GraderError, match=said):
        SlurmJobs(options)


def test_a_config_file_without_a_slurm_section_is_one_sentence(sbatch_anywhere, tmp_path):
    config = tmp_path / "slurm.yaml"
    config.write_text("slurm:\n  cores: 4\n")
    with pytest.raises(GraderError, match="expected a 'jobqueue: slurm:' section"):
        SlurmJobs(SlurmOptions(memory="1GB", config=config))


def test_without_sbatch_or_with_another_cluster_the_flags_are_refused(monkeypatch):
    pytest.importorskip("dask_jobqueue")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GraderError, match="needs SLURM's sbatch on the PATH"):
        jobs_for("slurm", SlurmOptions(cores=1, memory="1GB"))
    with pytest.raises(GraderError, match="apply to --cluster slurm only"):
        jobs_for("local", SlurmOptions(cores=1))
    assert jobs_for("local", SlurmOptions()) is None
