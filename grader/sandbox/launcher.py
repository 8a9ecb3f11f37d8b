"""Build the sandboxed worker's command line and resource limits.

On Linux with a working ``bwrap`` (bubblewrap), the worker runs in fresh
namespaces: no network, its own PID namespace (killing it kills every
descendant), a read-only view of the system and of the Python installation
only, the submission read-only at ``/submission``, the worker code at
``/harness`` and a writable scratch folder at ``/scratch`` — and nothing else:
not the repository, ``reference/``, rubrics, hidden data, other submissions
or the gradebook. Where bubblewrap is missing or cannot create namespaces
(macOS, Windows, some containers) the worker is a plain subprocess in its own
session with the same rlimits, and the harness says so once.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import warnings
from dataclasses import dataclass
from pathlib import Path

WORKER_DIR = Path(__file__).resolve().parent / "worker"
DISABLE_ENV = "GRADER_NO_BWRAP"
THREADS_ENV = "GRADER_THREADS"  # CPU threads one worker may use (cores / parallel workers)
MARKER_ENV = "GRADER_SANDBOX_ID"  # inherited by everything the worker starts; found again at kill time


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process (units in the names)."""

    memory_mb: int = 4096
    cpu_s: int = 600
    file_size_mb: int = 64
    open_files: int = 256
    scratch_mb: int = 128  # the writable home folder (a RAM tmpfs under bubblewrap)
    tmp_mb: int = 64  # /tmp and /dev/shm, each
    # RLIMIT_AS caps virtual memory, which CUDA reserves by the tens of GiB: workers that may
    # use a GPU are held to memory_mb of resident memory by the parent's watchdog instead.
    address_space_limit: bool = True


@dataclass(frozen=True)
class LaunchPlan:
    """What to exec, where the submission and scratch are as the worker sees them."""

    argv: list[str]
    env: dict[str, str]
    isolation: str  # "bubblewrap" or "subprocess"


def plan(submission_dir: Path, module_dir: str, scratch: Path, pass_fds: tuple[int, int],
         numpy_aliases: bool, limits: Limits, marker: str) -> LaunchPlan:
    """The command that starts a worker for ``submission_dir``, with scratch at ``scratch``.

    ``module_dir`` is the folder of the student's modules, relative to the submission;
    ``marker`` is a unique id put in the worker's environment, so that processes it
    starts can be found and killed even after they leave its process tree.
    """
    use_bwrap = bubblewrap_available()
    inside_sub = str(Path("/submission" if use_bwrap else submission_dir) / module_dir)
    inside_scratch = "/scratch" if use_bwrap else str(scratch)
    worker = ("/harness" if use_bwrap else str(WORKER_DIR)) + "/main.py"
    python = sys.executable
    argv = [python, "-I", worker, str(pass_fds[0]), str(pass_fds[1]), inside_sub]
    argv += limit_arguments(limits)
    if numpy_aliases:
        argv.append("--numpy-aliases")
    env = {**_environment(inside_scratch), MARKER_ENV: marker}
    if use_bwrap:
        argv = _bwrap_prefix(submission_dir, limits) + argv
        return LaunchPlan(argv, env, "bubblewrap")
    return LaunchPlan(argv, env, "subprocess")


def limit_arguments(limits: Limits) -> list[str]:
    """The worker's ``--limits`` argument: rlimits it applies to itself before any student code.

    Applying them in the worker (not in a ``preexec_fn``) keeps process
    creation safe from threaded parents such as Dask workers.
    """
    mib = 1 << 20
    values = {
        "CPU": limits.cpu_s,
        "FSIZE": limits.file_size_mb * mib,
        "NOFILE": limits.open_files,
        "CORE": 0,
    }
    if limits.address_space_limit:
        values["AS"] = limits.memory_mb * mib
    if os.getuid() != 0:  # root is exempt from RLIMIT_NPROC, and it counts all of a user's tasks
        values["NPROC"] = _tasks_of_user() + 256
    return ["--limits", ",".join(f"{name}={value}" for name, value in values.items())]


@functools.cache
def bubblewrap_available() -> bool:
    """Whether bubblewrap exists and can create the namespaces (probed once per process)."""
    if os.environ.get(DISABLE_ENV) or sys.platform != "linux" or not shutil.which("bwrap"):
        _say_fallback("bubblewrap is not installed" if not os.environ.get(DISABLE_ENV)
                      else f"{DISABLE_ENV} is set")
        return False
    probe = subprocess.run(  # --size needs bubblewrap 0.7 or newer
        ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
         "--size", "1048576", "--tmpfs", "/tmp", "true"],
        capture_output=True, timeout=30,
    )
    if probe.returncode != 0:
        _say_fallback(f"bubblewrap cannot create namespaces here ({probe.stderr.decode().strip()})")
        return False
    return True


def _say_fallback(reason: str) -> None:
    warnings.warn(
        f"sandbox: {reason}; student code runs as a plain subprocess with resource limits "
        "only (no filesystem or network isolation)",
        RuntimeWarning, stacklevel=3,
    )


def _environment(scratch: str) -> dict[str, str]:
    """A minimal environment: nothing of the grader's secrets, headless plotting, one thread."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": scratch,
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{scratch}/.config/matplotlib",
        "XDG_CACHE_HOME": f"{scratch}/.cache",
        "XDG_CONFIG_HOME": f"{scratch}/.config",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
        **{k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_CORETYPE")
           or k in ("OPENBLAS_L2_SIZE", THREADS_ENV)},
    }


def _python_roots() -> list[str]:
    """Folders the interpreter and its packages live in (read-only inside the sandbox)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        roots.add(sysconfig.get_path(key))
    return sorted(r for r in roots if r and Path(r).exists())


def _hidden_packages() -> list[str]:
    """Installed copies of the answer key and the harness, masked inside the sandbox."""
    hidden = []
    for root in _python_roots():
        for name in ("reference", "grader", "rubrics", "assignments"):
            path = Path(root) / name
            if path.is_dir():
                hidden.append(str(path))
    return hidden


def _bwrap_prefix(submission_dir: Path, limits: Limits) -> list[str]:
    """Namespaces and mounts. Every writable place is a size-capped tmpfs (files in RAM are
    not counted by RLIMIT_AS, so uncapped ones would let a submission fill the host's memory),
    and the root is remounted read-only at the end."""
    mib = 1 << 20
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--hostname", "sandbox",
            # the tmpfs mounts come first: a Python installation under /tmp (a venv there)
            # is bound on top of them below, instead of being hidden by them
            "--size", str(limits.tmp_mb * mib), "--tmpfs", "/tmp",
            "--size", str(limits.scratch_mb * mib), "--tmpfs", "/scratch",
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.tmp_mb * mib), "--tmpfs", "/dev/shm"]
    for device in sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*")):
        args += ["--dev-bind", device, device]  # GPU checks need the driver's device files
    for system in ("/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc"):
        if Path(system).exists():
            args += ["--ro-bind", system, system]
    for root in _python_roots():
        args += ["--ro-bind", root, root]
    for hidden in _hidden_packages():
        args += ["--size", "4096", "--tmpfs", hidden, "--remount-ro", hidden]
    args += ["--ro-bind", str(submission_dir), "/submission",
             "--ro-bind", str(WORKER_DIR), "/harness",
             "--chdir", "/scratch", "--remount-ro", "/"]
    return args


def _tasks_of_user() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def share_cores(workers: int) -> None:
    """Give each of ``workers`` sandboxes running at once its share of the cores (unless set).

    Without it, parallel sandboxes each start one thread per core; the
    oversubscribed threads spin, which burns the CPU-time budgets of training
    checks without training.
    """
    os.environ.setdefault(THREADS_ENV, str(max(1, (os.cpu_count() or 1) // workers)))
