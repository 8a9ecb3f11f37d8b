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

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from grader import context
from grader.sandbox import isolation
from grader.sandbox.installation import WORKER_DIR
from grader.sandbox.layers import ordered
from grader.sandbox.mounts import (GPU_MEMORY_ENV, Interpreter, Limits, bwrap_prefix,
                                   confinement, python_roots, system_paths)

THREADS_ENV = "GRADER_THREADS"  # CPU threads one worker may use (cores / parallel workers)
MARKER_ENV = "GRADER_SANDBOX_ID"  # inherited by everything the worker starts; found again at kill time
DISABLE_ENV = isolation.NO_BWRAP_ENV
# Which of the machine's GPUs a GPU sandbox's CUDA may use: set by SLURM (--gres), by a Dask
# worker's launcher or by hand, and passed on (a sandbox of a CPU-only rubric gets none).
GPU_ENV = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")

TASKS_BASE, TASKS_PER_THREAD = 64, 4


@dataclass(frozen=True)
class LaunchPlan:
    """What to exec, and the isolation it asks for."""

    argv: list[str]
    env: dict[str, str]
    isolation: str  # "bubblewrap" or "subprocess"
    layers: tuple[str, ...]  # the layers asked for, confirmed by the worker's ready message
    spec: dict = field(default_factory=dict)  # what worker/main.py reads (a warm fork: all)
    # layers whose command wraps the start (of this worker, or of the zygote it is forked
    # from): in force once the worker started, as bubblewrap is
    wrapped: tuple[str, ...] = ()


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
    env = worker_environment(where, marker, limits)
    wrappers, wrapped = wrapping(limits)
    if use_bwrap:
        if argv:  # a cold start: its own namespaces, the submission at /submission
            argv = _joining(cgroup_entries) + wrappers + bwrap_prefix(
                (submission, "/submission"), limits, lease is not None,
                python_roots(interpreter)) + argv
        return LaunchPlan(argv, env, "bubblewrap", ("bubblewrap", *layers, *wrapped), spec,
                          wrapped)
    return LaunchPlan(wrappers + argv if argv else argv, env, "subprocess", (*layers, *wrapped),
                      spec, wrapped)


def wrapping(limits: Limits) -> tuple[list[str], tuple[str, ...]]:
    """The commands of the available layers that wrap every worker start (their ``wrap``), in
    the layers' order, and those layers' names."""
    have = isolation.available()
    layers = [layer for layer in ordered() if layer.wrap and have.has(layer.name)]
    return [word for layer in layers if layer.wrap for word in layer.wrap(limits)], \
        tuple(layer.name for layer in layers)


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
    wanted = {layer.name for layer in ordered() if layer.in_worker and have.has(layer.name)}
    if lease is None:
        wanted.discard("uid")  # this sandbox has no uid of its own (the session says why)
    roots = python_roots(interpreter)
    # A warm sandbox's file rules come in two Landlock layers. The first is its slot's, the
    # same for every sandbox of the slot, so its zygote builds it once (680 rules, 6 ms): it
    # reads the slot folder, which holds this one workspace, and writes there, or in
    # bubblewrap's own folders. The second, its own, lets it write only its own folders.
    shared_write = [where.slot] if where.slot and not use_bwrap else list(where.write)
    confine = confinement(wanted, lease,
                          read=system_paths(limits.gpu) + [where.worker,
                                                           where.slot or where.submission],
                          write=shared_write, protect=[] if use_bwrap else [os.getpid()],
                          python=roots, namespaces=use_bwrap,
                          unwritable=unwritable(where, roots), witnesses=witnesses,
                          drop_capabilities="uid" not in isolation.disabled(), gpu=limits.gpu)
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


def worker_environment(where: Places, marker: str, limits: Limits = Limits()) -> dict[str, str]:
    """The worker's whole environment: :func:`_environment`, the sandbox's marker and, for a
    sandbox that may use a GPU, which GPUs and how much of their memory."""
    gpu: dict[str, str] = {}
    if limits.gpu:
        gpu = {name: os.environ[name] for name in GPU_ENV if name in os.environ}
        if limits.gpu_memory_mb:
            gpu[GPU_MEMORY_ENV] = str(limits.gpu_memory_mb)
    return {**_environment(where.scratch), MARKER_ENV: marker, **gpu}


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
    wrappers, wrapped = wrapping(limits)
    if use_bwrap:
        argv = wrappers + bwrap_prefix((slot, SLOT), limits, keep_root,
                                       python_roots(interpreter), unshare_ipc=True) + argv
        return LaunchPlan(argv, env, "bubblewrap", ("bubblewrap", *wrapped), wrapped=wrapped)
    return LaunchPlan(wrappers + argv, env, "subprocess", wrapped, wrapped=wrapped)


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
        **({THREADS_ENV: str(threads)} if (threads := _chosen_threads()) else {}),
    }


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
