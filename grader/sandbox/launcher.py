"""Build the sandboxed worker's command line, environment and launch spec.

The worker is ``python -I worker/main.py SPEC``: a supervisor that forks the worker proper,
which applies the isolation layers of :mod:`grader.sandbox.isolation` to itself before any
student code. With a working ``bwrap`` (bubblewrap) the whole tree also runs in fresh
namespaces: no network, its own PID namespace, a read-only view of the system, of the parts
of ``/etc`` Python needs and of the Python installation only, the submission read-only at
``/submission``, the worker code at ``/harness`` and size-capped tmpfs folders at
``/scratch``, ``/tmp`` and ``/dev/shm`` — and nothing else: not the repository,
``reference/``, rubrics, hidden data, other submissions or the gradebook. Without
bubblewrap, Landlock grants the same paths and nothing else.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from grader import datapath
from grader.sandbox import isolation
from grader.sandbox.isolation import WORKER_DIR

THREADS_ENV = "GRADER_THREADS"  # CPU threads one worker may use (cores / parallel workers)
MARKER_ENV = "GRADER_SANDBOX_ID"  # inherited by everything the worker starts; found again at kill time
DISABLE_ENV = isolation.NO_BWRAP_ENV

SYSTEM = ["/usr", "/bin", "/lib", "/lib64", "/sbin"]
# What Python, numpy, torch, OpenCV and matplotlib read in /etc; the rest (shadow, ssh
# keys, the machine's configuration) stays out of the sandbox.
ETC = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "alternatives",
       "fonts", "mime.types", "os-release", "lsb-release", "nsswitch.conf", "passwd", "group",
       "locale.alias", "matplotlibrc"]
PROC = ["/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat"]
SYS = ["/sys/devices/system/cpu"]
GPU_READ = ["/proc/driver/nvidia", "/sys/bus/pci", "/sys/devices", "/sys/module/nvidia"]
DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]
HIDDEN_PACKAGES = ("reference", "grader", "rubrics", "assignments")


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
    # use a GPU are held to memory_mb of resident memory by the parent's watchdog alone.
    address_space_limit: bool = True


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs the worker: the harness's own, or a course environment's
    (:mod:`grader.environments`), whose folder the sandbox may read."""

    executable: str = sys.executable
    root: str | None = None  # a course environment's folder; None: the harness's Python


@dataclass(frozen=True)
class LaunchPlan:
    """What to exec, and the isolation it asks for."""

    argv: list[str]
    env: dict[str, str]
    isolation: str  # "bubblewrap" or "subprocess"
    layers: tuple[str, ...]  # the layers asked for, confirmed by the worker's ready message
    spec: dict = field(default_factory=dict)  # what worker/main.py reads (a warm fork: all)


@dataclass(frozen=True)
class Fds:
    """The worker's ends of its pipes: requests in, replies out, and the supervisor's control."""

    request: int
    reply: int
    control: int


@dataclass(frozen=True)
class Places:
    """Where a worker finds its files, as its own process sees them (inside bubblewrap's
    namespace: ``/submission`` or ``/slot/...``, ``/scratch``, ``/harness``)."""

    submission: str
    scratch: str
    worker: str
    write: tuple[str, ...]  # every folder it may write: its scratch (and /tmp, /dev/shm inside)


SLOT = "/slot"  # where a warm worker's slot folder (:mod:`grader.sandbox.zygote`) is bound


def places(submission: Path, scratch: Path, slot: Path | None = None) -> Places:
    """The worker's view of a workspace: the host's paths, or bubblewrap's mount points
    (``slot``: the folder that holds the workspace, bound once for a warm worker)."""
    if not bubblewrap_available():
        return Places(str(submission), str(scratch), str(WORKER_DIR), (str(scratch),))
    inside = "/submission" if slot is None else f"{SLOT}/{submission.relative_to(slot)}"
    return Places(inside, "/scratch", "/harness", ("/scratch", "/tmp", "/dev/shm"))


def plan(submission: Path, scratch: Path, module_dir: str, fds: Fds, numpy_aliases: bool,
         limits: Limits, marker: str, lease=None, cgroup_dir: Path | None = None,
         interpreter: Interpreter = Interpreter(), slot: Path | None = None) -> LaunchPlan:
    """The command that starts a worker for the read-only copy ``submission``.

    ``lease`` is the sandbox's own uid (:mod:`grader.sandbox.uids`) when the grader is root;
    ``marker`` is a unique id put in the worker's environment, a last-resort way to find
    processes it starts. With ``slot`` (the folder of a warm worker that holds
    ``submission``) the plan has no command: its ``spec`` and ``env`` go to the zygote.
    """
    where = places(submission, scratch, slot)
    spec, layers = worker_spec(where, module_dir, fds, numpy_aliases, limits, lease,
                               cgroup_dir, interpreter)
    argv = [] if slot else [interpreter.executable, "-I", f"{where.worker}/main.py",
                            json.dumps(spec)]
    env = worker_environment(where, marker)
    if bubblewrap_available():
        if argv:  # a cold start: its own namespaces, the submission at /submission
            argv = _bwrap_prefix((submission, "/submission"), limits, lease is not None,
                                 python_roots(interpreter)) + argv
        return LaunchPlan(argv, env, "bubblewrap", ("bubblewrap", *layers), spec)
    return LaunchPlan(argv, env, "subprocess", layers, spec)


def worker_spec(where: Places, module_dir: str, fds: Fds, numpy_aliases: bool, limits: Limits,
                lease=None, cgroup_dir: Path | None = None,
                interpreter: Interpreter = Interpreter()) -> tuple[dict, tuple[str, ...]]:
    """The launch spec ``worker/main.py`` reads (JSON), and the layers it asks for."""
    have = isolation.available()
    use_bwrap = have.has("bubblewrap")
    wanted = {layer for layer in ("landlock", "seccomp") if have.has(layer)}
    wanted |= {"uid"} if lease is not None else set()
    confine = confinement(wanted, lease, read=system_paths() + [where.worker, where.submission],
                          write=list(where.write), protect=[] if use_bwrap else [os.getpid()],
                          python=python_roots(interpreter))
    spec = {"fds": {"request": fds.request, "reply": fds.reply, "control": fds.control},
            "module_dir": str(Path(where.submission) / module_dir),
            "limits": limit_values(limits, lease), "numpy_aliases": numpy_aliases,
            "confine": confine, "subreaper": have.has("subreaper"),
            "cgroup": str(cgroup_dir) if cgroup_dir and not use_bwrap else None,
            "chown": list(where.write) if use_bwrap else []}
    layers = sorted(wanted | ({"subreaper"} if spec["subreaper"] else set())
                    | ({"cgroup"} if spec["cgroup"] else set()))
    return spec, tuple(layers)


def worker_environment(where: Places, marker: str) -> dict[str, str]:
    """The worker's whole environment: :func:`_environment` and the sandbox's marker."""
    return {**_environment(where.scratch), MARKER_ENV: marker}


def zygote_plan(slot: Path, control_fd: int, preload: tuple[str, ...], limits: Limits,
                keep_root: bool, interpreter: Interpreter = Interpreter()) -> LaunchPlan:
    """The command that starts a warm worker (``worker/zygote.py``) for the folder ``slot``,
    under the same namespaces and mounts a cold worker gets, with ``slot`` at :data:`SLOT`
    instead of one submission; ``keep_root``: the grader is root and hands out uids."""
    use_bwrap = bubblewrap_available()
    worker = "/harness" if use_bwrap else str(WORKER_DIR)
    spec = {"control": control_fd, "preload": list(preload),
            "wipe": ["/scratch", "/tmp", "/dev/shm"] if use_bwrap else []}
    argv = [interpreter.executable, "-I", f"{worker}/zygote.py", json.dumps(spec)]
    env = _environment("/scratch" if use_bwrap else str(slot))
    if use_bwrap:
        argv = _bwrap_prefix((slot, SLOT), limits, keep_root, python_roots(interpreter)) + argv
        return LaunchPlan(argv, env, "bubblewrap", ("bubblewrap",))
    return LaunchPlan(argv, env, "subprocess", ())


def confinement(wanted: set[str], lease, read: list[str], write: list[str],
                protect: list[int], python: list[str] | None = None) -> dict:
    """The ``confine`` part of a launch spec (see ``worker/confine``); ``python``: the
    folders of the worker's interpreter and packages (default: the harness's)."""
    # a root worker without a uid of its own at least gives up its capabilities (part of the
    # uid layer: with every layer turned off, nothing is dropped)
    spec: dict = {"identity": {"uid": lease.uid, "gid": lease.gid} if "uid" in wanted else None,
                  "drop_capabilities": "uid" not in isolation.disabled()}
    if "landlock" in wanted:
        spec["landlock"] = {"read": read, "read_trees": python or list(_python_roots()),
                            "hidden": hidden_paths(),
                            "write": write, "devices": DEVICES + gpu_devices()}
    if "seccomp" in wanted:
        spec["seccomp"] = {"protect_pids": protect}
    return spec


def closed_to_sandbox(interpreter: Interpreter, lease) -> Path | None:
    """A folder above a course environment that the sandbox's own uid (``lease``) may not
    enter, where it sees the host's folders (no bubblewrap); ``None`` when all is open."""
    if interpreter.root is None or lease is None or bubblewrap_available():
        return None
    for folder in reversed(Path(interpreter.root).parents):
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def system_paths() -> list[str]:
    """What every worker may read besides Python: the system, parts of /etc, /proc, /sys."""
    paths = SYSTEM + [f"/etc/{name}" for name in ETC] + PROC + SYS
    return paths + (GPU_READ if gpu_devices() else [])


def gpu_devices() -> list[str]:
    return sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*"))


def hidden_paths() -> list[str]:
    """What must stay unreadable even where it lies inside a granted tree: installed copies
    of the answer key and the harness, the repository, and the grader's state folders."""
    data = datapath.course_data_dir()
    return list(_hidden_paths(str(datapath.state_root()), str(data) if data else None))


@functools.lru_cache(maxsize=8)
def _hidden_paths(state: str, data: str | None) -> tuple[str, ...]:
    """:func:`hidden_paths` for the state folder ``state`` and the course data ``data``
    (the installed copies are looked up once per process)."""
    hidden = [str(Path(root) / name) for root in _python_roots() for name in HIDDEN_PACKAGES]
    for root in _python_roots():
        hidden += glob.glob(os.path.join(root, "__editable__*cv_course_grader*"))
        hidden += glob.glob(os.path.join(root, "cv_course_grader*.dist-info"))
    hidden += [str(datapath.REPO_ROOT), state]
    return tuple(hidden + ([data] if data else []))


def limit_values(limits: Limits, lease=None) -> dict[str, int]:
    """The rlimits the worker applies to itself before any student code.

    Applying them in the worker (not in a ``preexec_fn``) keeps process creation safe from
    threaded parents such as Dask workers.
    """
    mib = 1 << 20
    values = {"CPU": limits.cpu_s, "FSIZE": limits.file_size_mb * mib,
              "NOFILE": limits.open_files, "CORE": 0}
    if limits.address_space_limit:
        values["AS"] = limits.memory_mb * mib
    # RLIMIT_NPROC counts every task of the worker's real uid: a sandbox uid has none yet
    values["NPROC"] = 256 + (0 if lease is not None else _tasks_of_user(os.getuid()))
    return values


def bubblewrap_available() -> bool:
    """Whether bubblewrap can create namespaces here (probed once per process)."""
    return isolation.available().has("bubblewrap")


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


def python_roots(interpreter: Interpreter) -> list[str]:
    """Folders the worker's interpreter and its packages live in (read-only in the sandbox):
    the harness's Python (a course environment's venv links to its base) and the venv."""
    return sorted({*_python_roots(), *([interpreter.root] if interpreter.root else [])})


@functools.cache
def _python_roots() -> tuple[str, ...]:
    """Folders the harness's interpreter and its packages live in (found once per process)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        roots.add(sysconfig.get_path(key))
    return tuple(sorted(r for r in roots if r and Path(r).exists()))


def _hidden_packages() -> list[str]:
    """Installed copies of the answer key and the harness, masked inside bubblewrap."""
    return [p for p in (str(Path(root) / name) for root in _python_roots()
                        for name in HIDDEN_PACKAGES) if Path(p).is_dir()]


def _bwrap_prefix(mount: tuple[Path, str], limits: Limits, keep_root: bool,
                  python: list[str]) -> list[str]:
    """Namespaces and mounts. Every writable place is a size-capped tmpfs (files in RAM are
    not counted by RLIMIT_AS, so uncapped ones would let a submission fill the host's memory),
    and the root is remounted read-only at the end. ``mount`` is (host folder, mount point):
    the submission at ``/submission``, or a warm worker's slot at :data:`SLOT`. With
    ``keep_root`` the supervisor keeps root inside (to hand the worker its own uid), else
    every capability is dropped."""
    mib = 1 << 20
    # a root supervisor needs the real uids to hand one over: no user namespace then
    unshare = (["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try"] if keep_root else ["--unshare-all", "--cap-drop", "ALL"])
    args = ["bwrap", *unshare, "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    # the tmpfs mounts come first: a Python installation under /tmp (a venv there)
    # is bound on top of them below, instead of being hidden by them
    args += ["--size", str(limits.tmp_mb * mib), "--tmpfs", "/tmp",
             "--size", str(limits.scratch_mb * mib), "--tmpfs", "/scratch",
             "--proc", "/proc", "--dev", "/dev",
             "--size", str(limits.tmp_mb * mib), "--tmpfs", "/dev/shm"]
    # folders bwrap makes on the way to a bind are 0700: a sandbox uid could not pass them
    for folder in _ancestors(["/etc/x", *python, "/scratch"]):
        args += ["--perms", "0755", "--dir", folder]
    for device in gpu_devices():
        args += ["--dev-bind", device, device]  # GPU checks need the driver's device files
    for system in SYSTEM + [f"/etc/{name}" for name in ETC]:
        if os.path.lexists(system):
            args += ["--ro-bind", system, system]
    for root in python:
        args += ["--ro-bind", root, root]
    for hidden in _hidden_packages():
        args += ["--size", "4096", "--tmpfs", hidden, "--remount-ro", hidden]
    args += ["--ro-bind", str(mount[0]), mount[1],
             "--ro-bind", str(WORKER_DIR), "/harness",
             "--chdir", "/scratch", "--remount-ro", "/"]
    return args


def _ancestors(paths: list[str]) -> list[str]:
    """Every folder above ``paths`` (``/a``, ``/a/b`` for ``/a/b/c``), parents first."""
    found = {str(parent) for path in paths for parent in Path(path).parents if str(parent) != "/"}
    return sorted(found, key=lambda folder: (folder.count("/"), folder))


def _tasks_of_user(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def threads_per_worker(workers: int) -> int:
    """The CPU threads each of ``workers`` sandboxes running at once may use: its share of the
    cores (``GRADER_THREADS`` when the user sets it).

    Without it, parallel sandboxes each start one thread per core; the
    oversubscribed threads spin, which burns the CPU-time budgets of training
    checks without training.
    """
    chosen = os.environ.get(THREADS_ENV, "")
    return int(chosen) if chosen.isdigit() and int(chosen) > 0 else \
        max(1, (os.cpu_count() or 1) // workers)
