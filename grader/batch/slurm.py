"""Grading workers in SLURM jobs (``grader grade --cluster slurm``), through dask-jobqueue.

The grader runs the Dask scheduler in its own process (dask-jobqueue's ``SLURMCluster``) and
submits ``jobs`` batch jobs with ``sbatch``. Each job runs Dask workers with this very Python
(``sys.executable``: the harness must be installed at the same path on the compute nodes, a
shared virtual environment), which connect back and grade the batch's tasks as the workers of
any other Dask cluster do: :class:`~grader.batch.executors.DaskExecutor` submits them, each
carrying its run context. A CPU job runs one single-threaded worker per core, as
``--cluster local`` does; a GPU job one worker per GPU, each offering one ``GPU`` resource and
its share of the job's cores.

The settings are dask-jobqueue's own ``jobqueue.slurm`` configuration (its files under
``~/.config/dask/``, ``$DASK_CONFIG``), then ``--slurm-config FILE`` in the same format, then
the ``--slurm-*`` flags (:class:`SlurmOptions`).

A job that ends during the batch (``scancel``, preemption, its walltime, a failed node): Dask
grades the tasks its workers held again on the other workers, and once Dask has given the
worker up (``distributed.deploy.lost-worker-timeout``, 15 s) another job is submitted in its
place (:func:`_keep_jobs`; dask-jobqueue alone never replaces one). Jobs that all leave the
queue before any of their workers connected are one sentence naming their output.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grader.errors import GraderError

SECTION = "jobqueue.slurm"  # dask-jobqueue's configuration of SLURM jobs
KEEP_INTERVAL_MS = 5000  # how often jobs whose workers were lost are replaced
POLL_S = 2.0  # how often the queue is asked about the jobs while no worker has connected


@dataclass(frozen=True)
class SlurmOptions:
    """The ``--slurm-*`` flags; ``None`` leaves a setting to the configuration."""

    partition: str | None = None
    account: str | None = None
    walltime: str | None = None  # of each job, e.g. "02:00:00"
    cores: int | None = None  # of each job
    memory: str | None = None  # of each job, e.g. "16GB"
    gpus: int | None = None  # of each job: --gres=gpu:N
    jobs: int = 1
    config: Path | None = None  # a file in dask-jobqueue's format (jobqueue: slurm: ...)


class SlurmJobs:
    """The SLURM jobs a batch asks for, resolved from the configuration and the flags and
    checked now (dask-jobqueue and ``sbatch`` present, a job's cores and memory known);
    :meth:`start` submits them.

    ``workers`` is the number of Dask workers of all the jobs, ``threads`` the CPU threads
    each worker's sandbox may use.
    """

    def __init__(self, options: SlurmOptions) -> None:
        _require_tools()
        self.jobs = options.jobs
        self.gpus = options.gpus or 0
        self._settings = {**_configured(options.config), **_flags(options)}
        if not self._settings.get("cores") or not self._settings.get("memory"):
            raise GraderError("--cluster slurm needs the cores and memory of a job: "
                              "--slurm-cores and --slurm-memory, or cores and memory under "
                              "'jobqueue: slurm:' in --slurm-config or Dask's configuration")
        cores = int(self._settings["cores"])
        if self.gpus > cores:
            raise GraderError(f"--slurm-gpus {self.gpus} needs at least {self.gpus} cores a job, "
                              f"not {cores}")
        self.workers_per_job = self.gpus or cores
        self.workers = self.jobs * self.workers_per_job
        self.threads = max(1, cores // self.workers_per_job)

    def start(self, worker_settings: dict[str, Any]) -> Any:
        """Submit the jobs, whose workers run with the Dask ``worker_settings``, and return
        their ``SLURMCluster`` (closing it cancels them)."""
        from dask_jobqueue import SLURMCluster

        try:
            cluster = SLURMCluster(**self.arguments(worker_settings))
        except ValueError as exc:  # an unknown setting, a size it cannot read
            refused = f"--cluster slurm: dask-jobqueue refuses the settings: {exc}"
            raise GraderError(refused) from None
        try:
            _test_only(cluster.job_script())
            cluster.scale(jobs=self.jobs)
            _keep_jobs(cluster, self.jobs)
        except BaseException:
            cluster.close()
            raise
        return cluster

    def wait(self, cluster: Any) -> None:
        """Return once a worker of the jobs has connected, however long they queue; a
        :class:`GraderError` naming their output once every job has left the queue before."""
        _wait_for_a_worker(cluster, self._output())

    def arguments(self, worker_settings: dict[str, Any]) -> dict[str, Any]:
        """``SLURMCluster``'s keyword arguments: the settings, this Python, one worker per core
        (or GPU), the GPUs' ``--gres`` and resource, and ``worker_settings`` exported."""
        settings = self._settings
        gpus = ([f"--gres=gpu:{self.gpus}"], ["--resources", "GPU=1"]) if self.gpus else ([], [])
        return {**settings, "python": sys.executable, "processes": self.workers_per_job,
                "job_extra_directives": [*settings.get("job_extra_directives", []), *gpus[0]],
                "worker_extra_args": [*settings.get("worker_extra_args", []), *gpus[1]],
                "job_script_prologue": [*settings.get("job_script_prologue", []),
                                        *_exports(worker_settings)],
                "scheduler_options": {"dashboard_address": None,
                                      **settings.get("scheduler_options", {})}}

    def _output(self) -> str:
        """Where a job's output goes, for the messages (``{id}`` stands for the job's id)."""
        folder = self._settings.get("log_directory")
        if folder:
            return f"{folder}/{self._settings.get('name', 'dask-worker')}-{{id}}.err"
        return "slurm-{id}.out in the folder grader ran from"


def _require_tools() -> None:
    """dask-jobqueue imported and ``sbatch`` on the PATH, or one sentence saying which is not.

    dask-jobqueue is imported here, in the main thread, keeping this process's Ctrl-C: on
    import it makes SIGINT call ``sys.exit()``, which can only be set from the main thread.
    """
    previous = signal.getsignal(signal.SIGINT)
    try:
        import dask_jobqueue  # noqa: F401
    except ImportError:
        missing = "--cluster slurm needs dask-jobqueue: pip install -e '.[cluster]'"
        raise GraderError(missing) from None
    finally:
        signal.signal(signal.SIGINT, previous)
    if shutil.which("sbatch") is None:
        raise GraderError("--cluster slurm needs SLURM's sbatch on the PATH: run grader on a "
                          "machine that submits jobs to the cluster (a login node)")


def _configured(path: Path | None) -> dict[str, Any]:
    """``jobqueue.slurm`` from Dask's configuration under ``path``'s, as ``SLURMCluster``'s
    keyword arguments (those set to nothing left to dask-jobqueue's defaults)."""
    import dask

    return {**_arguments(dask.config.get(SECTION, default={}) or {}),
            **(_arguments(_read_config(path)) if path else {})}


def _arguments(section: dict[str, Any]) -> dict[str, Any]:
    """A configuration section's settings as keyword arguments (``log-directory`` becomes
    ``log_directory``), those set to nothing left out."""
    return {key.replace("-", "_"): value for key, value in section.items() if value is not None}


def _read_config(path: Path) -> dict[str, Any]:
    """The ``jobqueue: slurm:`` section of ``path``, a file in dask-jobqueue's own format."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GraderError(f"--slurm-config {path}: cannot read it ({exc})") from None
    jobqueue = data.get("jobqueue") if isinstance(data, dict) else None
    section = jobqueue.get("slurm") if isinstance(jobqueue, dict) else None
    if not isinstance(section, dict):
        raise GraderError(f"--slurm-config {path}: expected a 'jobqueue: slurm:' section "
                          "(dask-jobqueue's format)")
    return section


def _flags(options: SlurmOptions) -> dict[str, Any]:
    """The settings the flags give, as ``SLURMCluster``'s keyword arguments."""
    given = {"queue": options.partition, "account": options.account,
             "walltime": options.walltime, "cores": options.cores, "memory": options.memory}
    return {key: value for key, value in given.items() if value is not None}


def _exports(settings: dict[str, Any]) -> list[str]:
    """Job-script lines that give the job's workers the Dask ``settings`` (``export DASK_...``)."""
    return [f"export DASK_{key.upper().replace('.', '__').replace('-', '_')}="
            f"{shlex.quote(str(value))}" for key, value in settings.items()]


def _test_only(script: str) -> None:
    """Ask ``sbatch --test-only`` whether the cluster would take the job (partition, account,
    limits), submitting nothing; its refusal is one sentence."""
    with tempfile.NamedTemporaryFile("w", suffix=".sh", prefix="grader-job-") as file:
        file.write(script)
        file.flush()
        try:
            proc = subprocess.run(["sbatch", "--test-only", file.name], capture_output=True,
                                  text=True, timeout=60)
        except subprocess.TimeoutExpired:
            raise GraderError("--cluster slurm: sbatch --test-only gave no answer in 60 s: is "
                              "the SLURM controller reachable?") from None
    if proc.returncode != 0:
        said = "; ".join(line.strip() for line in proc.stderr.splitlines() if line.strip())
        raise GraderError("--cluster slurm: sbatch refuses the grading job "
                          f"({said or 'no reason given'})")


def _keep_jobs(cluster: Any, jobs: int) -> None:
    """Every few seconds, ask for ``jobs`` jobs again: once Dask has given up a lost worker,
    the cluster forgets its job but keeps its place, and scaling submits a job for each place
    without one."""
    from tornado.ioloop import PeriodicCallback

    def keep() -> None:
        if cluster.status.name == "running":
            cluster.scale(jobs=jobs)

    callback = PeriodicCallback(keep, KEEP_INTERVAL_MS)
    cluster.periodic_callbacks["grader-keep-jobs"] = callback  # stopped when the cluster closes
    cluster.loop.add_callback(callback.start)


def _wait_for_a_worker(cluster: Any, output: str) -> None:
    """:meth:`SlurmJobs.wait` (``output``: where a job's output is, ``{id}`` its id)."""
    while not cluster.scheduler_info.get("workers"):
        ids = [str(job.job_id) for job in list(cluster.workers.values())
               if getattr(job, "job_id", None)]
        if ids and not _queued(ids) and not cluster.scheduler_info.get("workers"):
            raise GraderError(
                f"SLURM job(s) {', '.join(ids)} ended before any Dask worker connected: the "
                f"compute nodes must run {sys.executable} with the harness installed ('srun "
                f"{sys.executable} -m grader.cli doctor' checks it); the job's output is in "
                f"{output.format(id=ids[0])}")
        time.sleep(POLL_S)


def _queued(ids: list[str]) -> bool:
    """Whether any of the jobs ``ids`` is still pending or running (also when the queue cannot
    be read just now: only an answer counts)."""
    try:
        proc = subprocess.run(["squeue", "--noheader", "--format=%i", f"--jobs={','.join(ids)}"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return True
    if proc.returncode != 0 and "Invalid job id" not in proc.stderr:
        return True
    return bool(proc.stdout.split())
