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

import glob
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader import context
from grader.sandbox import installation, isolation, syscall_policy
from grader.sandbox.installation import SYSTEM
from grader.sandbox.isolation import WORKER_DIR

THREADS_ENV = "GRADER_THREADS"  # CPU threads one worker may use (cores / parallel workers)
MARKER_ENV = "GRADER_SANDBOX_ID"  # inherited by everything the worker starts; found again at kill time
DISABLE_ENV = isolation.NO_BWRAP_ENV

# What Python, numpy, torch, OpenCV and matplotlib read in /etc; the rest (shadow, ssh
# keys, the machine's configuration) stays out of the sandbox.
ETC = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "alternatives",
       "fonts", "mime.types", "os-release", "lsb-release", "nsswitch.conf", "passwd", "group",
       "locale.alias", "matplotlibrc"]
PROC = ["/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat"]
SYS = ["/sys/devices/system/cpu"]
GPU_READ = ["/proc/driver/nvidia", "/sys/bus/pci", "/sys/devices", "/sys/module/nvidia"]
TASKS_BASE, TASKS_PER_THREAD = 64, 4
DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]


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
    slot: str | None = None  # a warm worker's slot folder, which holds its workspace


SLOT = "/slot"  # where a warm worker's slot folder (:mod:`grader.sandbox.zygote`) is bound


def places(submission: Path, scratch: Path, slot: Path | None = None) -> Places:
    """The worker's view of a workspace: the host's paths, or bubblewrap's mount points
    (``slot``: the folder that holds the workspace, bound once for a warm worker)."""
    if not bubblewrap_available():
        return Places(str(submission), str(scratch), str(WORKER_DIR), (str(scratch),),
                      None if slot is None else str(slot))
    inside = "/submission" if slot is None else f"{SLOT}/{submission.relative_to(slot)}"
    return Places(inside, "/scratch", "/harness", ("/scratch", "/tmp", "/dev/shm"),
                  None if slot is None else SLOT)


def plan(submission: Path, scratch: Path, module_dir: str, fds: Fds, numpy_aliases: bool,
         limits: Limits, marker: str, lease=None, cgroup_entries: tuple[str, ...] = (),
         interpreter: Interpreter = Interpreter(), slot: Path | None = None,
         witnesses: tuple[str, ...] = ()) -> LaunchPlan:
    """The command that starts a worker for the read-only copy ``submission``.

    ``lease`` is the sandbox's own uid (:mod:`grader.sandbox.uids`) when the grader is root;
    ``marker`` is a unique id put in the worker's environment, a last-resort way to find
    processes it starts. With ``slot`` (the folder of a warm worker that holds
    ``submission``) the plan has no command: its ``spec`` and ``env`` go to the zygote.
    ``witnesses``: paths of this sandbox's own that it must fail to open, beside those of
    :func:`~grader.sandbox.installation.witnesses` (the grader's copy of the submission).
    ``cgroup_entries``: the entry files of the sandbox's cgroup leaf (``Leaf.entry_files``),
    which its first process writes to, to move itself there before it forks anything: a
    cold worker's supervisor, or under bubblewrap the shell that then becomes ``bwrap`` (a
    warm one's zygote cannot see the cgroup tree: the grader opens the files for it).
    """
    where = places(submission, scratch, slot)
    spec, layers = worker_spec(where, module_dir, fds, numpy_aliases, limits, lease,
                               interpreter, witnesses)
    use_bwrap = bubblewrap_available()
    spec["cgroup"] = list(cgroup_entries) if cgroup_entries and not slot and not use_bwrap else None
    argv = [] if slot else [interpreter.executable, "-I", f"{where.worker}/main.py",
                            json.dumps(spec)]
    env = worker_environment(where, marker)
    if use_bwrap:
        if argv:  # a cold start: its own namespaces, the submission at /submission
            argv = _joining(cgroup_entries) + bwrap_prefix(
                (submission, "/submission"), limits, lease is not None,
                python_roots(interpreter)) + argv
        return LaunchPlan(argv, env, "bubblewrap", ("bubblewrap", *layers), spec)
    return LaunchPlan(argv, env, "subprocess", layers, spec)


def _joining(entries: tuple[str, ...]) -> list[str]:
    """A shell that moves itself into the cgroup leaf (its ``entries``), then becomes the
    command that follows: everything bubblewrap starts is born in the leaf."""
    if not entries:
        return []
    moves = "".join(f"{{ echo 0 > {shlex.quote(path)}; }} 2>/dev/null; " for path in entries)
    return ["/bin/sh", "-c", moves + 'exec "$@"', "sh"]


def worker_spec(where: Places, module_dir: str, fds: Fds, numpy_aliases: bool, limits: Limits,
                lease=None, interpreter: Interpreter = Interpreter(),
                witnesses: tuple[str, ...] = ()) -> tuple[dict, tuple[str, ...]]:
    """The launch spec ``worker/main.py`` reads (JSON), and the layers it asks for."""
    have = isolation.available()
    use_bwrap = have.has("bubblewrap")
    wanted = {layer for layer in ("landlock", "seccomp") if have.has(layer)}
    wanted |= {"uid"} if lease is not None else set()
    roots = python_roots(interpreter)
    # A warm sandbox's file rules come in two Landlock layers. The first is its slot's, the
    # same for every sandbox of the slot, so its zygote builds it once (680 rules, 6 ms): it
    # reads the slot folder, which holds this one workspace, and writes there, or in
    # bubblewrap's own folders. The second, its own, lets it write only its own folders.
    shared_write = [where.slot] if where.slot and not use_bwrap else list(where.write)
    confine = confinement(wanted, lease,
                          read=system_paths() + [where.worker, where.slot or where.submission],
                          write=shared_write, protect=[] if use_bwrap else [os.getpid()],
                          python=roots, namespaces=use_bwrap,
                          unwritable=unwritable(where, roots), witnesses=witnesses)
    if "landlock" in confine and shared_write != list(where.write):
        confine["landlock"]["narrow_write"] = list(where.write)
    spec = {"fds": {"request": fds.request, "reply": fds.reply, "control": fds.control},
            "module_dir": str(Path(where.submission) / module_dir),
            "limits": limit_values(limits, lease), "numpy_aliases": numpy_aliases,
            "confine": confine, "subreaper": have.has("subreaper"), "ipc": _ipc(have, where),
            "chown": list(where.write) if use_bwrap else []}
    layers = sorted(wanted | ({"subreaper"} if spec["subreaper"] else set())
                    | ({"ipc"} if spec["ipc"] else set()))
    return spec, tuple(layers)


def _ipc(have: isolation.Available, where: Places) -> str | None:
    """How the sandbox gets an IPC namespace of its own: bubblewrap made one for a cold start;
    a warm one's supervisor unshares its own (the zygote would share its namespace), as does
    a root supervisor without bubblewrap; ``None`` for an ordinary user without bubblewrap
    (the syscall allowlist refuses System V IPC and message queues everywhere)."""
    if not have.has("ipc"):
        return None
    if not have.has("bubblewrap"):
        return "unshare" if os.geteuid() == 0 else None
    # a warm one's zygote kept CAP_SYS_ADMIN (its own user namespace's, where it is not root)
    return "unshare" if where.submission.startswith(SLOT + "/") else "bubblewrap"


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
        argv = bwrap_prefix((slot, SLOT), limits, keep_root, python_roots(interpreter),
                            unshare_ipc=True) + argv
        return LaunchPlan(argv, env, "bubblewrap", ("bubblewrap",))
    return LaunchPlan(argv, env, "subprocess", ())


def confinement(wanted: set[str], lease, read: list[str], write: list[str],
                protect: list[int], python: list[str] | None = None, namespaces: bool = False,
                unwritable: list[str] | None = None, witnesses: tuple[str, ...] = ()) -> dict:
    """The ``confine`` part of a launch spec (see ``worker/confine``).

    ``read`` and ``write`` are granted as they are; the system and ``python`` (the folders
    of the worker's interpreter and packages, default the harness's) are granted as trees
    with every hidden place carved out. ``verify`` asks the worker to prove the result:
    every witness of a hidden place unreadable, every folder of ``unwritable`` unwritable.
    ``namespaces``: the sandbox has namespaces of its own (bubblewrap), which the syscall
    allowlist relies on for Unix sockets.
    """
    # a root worker without a uid of its own at least gives up its capabilities (part of the
    # uid layer: with every layer turned off, nothing is dropped)
    spec: dict = {"identity": {"uid": lease.uid, "gid": lease.gid} if "uid" in wanted else None,
                  "drop_capabilities": "uid" not in isolation.disabled()}
    hidden = installation.hidden_paths()
    if "landlock" in wanted:
        spec["landlock"] = {"read": read, "read_trees": SYSTEM + (python or list(installation.python_roots())),
                            "hidden": hidden, "write": write, "devices": DEVICES + gpu_devices()}
    if "seccomp" in wanted:
        spec["seccomp"] = {"protect_pids": protect, "rules": syscall_policy.load().rules(
            namespaces=namespaces, gpu=bool(gpu_devices()))}
    if "landlock" in wanted or namespaces:
        other_process = ["/proc/1/cmdline"] if "landlock" in wanted else []  # not its own
        spec["verify"] = {"unreadable": installation.witnesses(hidden) + list(witnesses)
                          + other_process,
                          "unwritable": unwritable or ["/"]}
    return spec


def unwritable(where: Places, python: list[str]) -> list[str]:
    """Folders a worker must fail to write in: the root, its submission and the folder above
    it (the workspace, or bubblewrap's read-only view), the worker code, the Python roots."""
    return ["/", where.submission, str(Path(where.submission).parent), where.worker, *python]


def closed_to_sandbox(interpreter: Interpreter) -> Path | None:
    """A folder above a course environment that a sandbox's own uid may not enter, where it
    sees the host's folders (no bubblewrap); ``None`` when all is open."""
    if interpreter.root is None or bubblewrap_available():
        return None
    for folder in reversed(Path(interpreter.root).parents):
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def system_paths() -> list[str]:
    """What every worker may read besides the system's and Python's trees: parts of /etc,
    /proc and /sys."""
    paths = [f"/etc/{name}" for name in ETC] + PROC + SYS
    return paths + (GPU_READ if gpu_devices() else [])


def gpu_devices() -> list[str]:
    return sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*"))


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
    # RLIMIT_NPROC counts every task (process or thread) of the worker's real uid: a sandbox
    # uid has none yet. Small, since each task may hold RLIMIT_AS between two of the
    # watchdog's looks where no cgroup caps the whole tree.
    values["NPROC"] = tasks_allowed() + (0 if lease is not None else _tasks_of_user(os.getuid()))
    return values


def tasks_allowed() -> int:
    """Processes and threads one sandbox may run: enough for its thread pools (a few per
    allowed CPU thread) and a DataLoader's or a Pool's workers."""
    return TASKS_BASE + TASKS_PER_THREAD * threads_allowed()


def threads_allowed() -> int:
    """The CPU threads one sandbox may use (the running task's share, else ``GRADER_THREADS``,
    else every core)."""
    return _chosen_threads() or (os.cpu_count() or 1)


def _chosen_threads() -> int | None:
    """The running task's thread share (:mod:`grader.context`), else ``GRADER_THREADS`` when
    it is set to a positive number."""
    chosen = str(context.current().threads or os.environ.get(THREADS_ENV, ""))
    return int(chosen) if chosen.isdigit() and int(chosen) > 0 else None


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
           or k == "OPENBLAS_L2_SIZE"},
        **({THREADS_ENV: str(_chosen_threads())} if _chosen_threads() else {}),
    }


def python_roots(interpreter: Interpreter) -> list[str]:
    """Folders the worker's interpreter and its packages live in (read-only in the sandbox):
    the harness's Python (a course environment's venv links to its base) and the venv."""
    return sorted({*installation.python_roots(), *([interpreter.root] if interpreter.root else [])})


def bwrap_prefix(mount: tuple[Path, str], limits: Limits, keep_root: bool,
                 python: list[str], unshare_ipc: bool = False) -> list[str]:
    """Namespaces and mounts. Every writable place is a size-capped tmpfs (files in RAM are
    not counted by RLIMIT_AS, so uncapped ones would let a submission fill the host's memory),
    and the root is remounted read-only at the end. ``mount`` is (host folder, mount point):
    the submission at ``/submission``, or a warm worker's slot at :data:`SLOT`. With
    ``keep_root`` the supervisor keeps root inside (to hand the worker its own uid), else
    every capability is dropped but, with ``unshare_ipc`` (a warm worker's zygote),
    CAP_SYS_ADMIN in its own user namespace: its sandboxes' supervisors unshare an IPC
    namespace each, and their workers drop it with the rest before any student code."""
    mib = 1 << 20
    # a root supervisor needs the real uids to hand one over: no user namespace then
    unshare = (["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try"] if keep_root else ["--unshare-all", "--cap-drop", "ALL"])
    if unshare_ipc and not keep_root:
        unshare += ["--cap-add", "CAP_SYS_ADMIN"]
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
    args += _system_binds() + [arg for root in python for arg in ("--ro-bind", root, root)]
    args += _masks(SYSTEM + python)
    args += ["--ro-bind", str(mount[0]), mount[1],
             "--ro-bind", str(WORKER_DIR), "/harness",
             "--chdir", "/scratch", "--remount-ro", "/"]
    return args


def _system_binds() -> list[str]:
    """The system folders and the parts of /etc, read-only; a link (``/lib -> usr/lib`` on
    a merged-``/usr`` system) stays a link, so that a place hidden in its target is hidden
    through it too (a second bind of the target would show what the first one masks)."""
    args = []
    for path in SYSTEM + [f"/etc/{name}" for name in ETC]:
        if os.path.islink(path) and path in SYSTEM:
            args += ["--symlink", os.readlink(path), path]
        elif os.path.lexists(path):
            args += ["--ro-bind", path, path]
    return args


def _masks(trees: list[str]) -> list[str]:
    """Cover every hidden place inside the bound ``trees``: an empty read-only tmpfs on a
    folder, ``/dev/null`` on a file."""
    inside = [os.path.realpath(t).rstrip("/") + "/" for t in trees if os.path.exists(t)]
    args = []
    for hidden in installation.hidden_paths():
        if not any(hidden.startswith(tree) for tree in inside) or not os.path.lexists(hidden):
            continue
        if os.path.isdir(hidden):
            args += ["--size", "4096", "--tmpfs", hidden, "--remount-ro", hidden]
        else:
            args += ["--ro-bind", "/dev/null", hidden]
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
    return _chosen_threads() or max(1, (os.cpu_count() or 1) // workers)
