"""What a worker may see and do: its bubblewrap mounts, and the confinement its own layers
apply (``worker/confine``) — the same paths either way, so that with or without namespaces
a worker reaches the system, the Python installation with the answer key and the harness
carved out, its submission and its scratch folder, and nothing else.

Used to launch every worker (:mod:`grader.sandbox.launcher`) and by the probes that find
which layers hold here (:mod:`grader.sandbox.isolation`); it decides nothing about this
machine itself.
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox import installation, syscall_policy
from grader.sandbox.installation import SYSTEM, WORKER_DIR

# What Python, numpy, torch, OpenCV and matplotlib read in /etc; the rest (shadow, ssh
# keys, the machine's configuration) stays out of the sandbox.
ETC = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "alternatives",
       "fonts", "mime.types", "os-release", "lsb-release", "nsswitch.conf", "passwd", "group",
       "locale.alias", "matplotlibrc"]
PROC = ["/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat"]
SYS = ["/sys/devices/system/cpu"]
# What the CUDA driver reads besides its device files, for a sandbox that may use a GPU: the
# driver's parameters, version and (MIG) capabilities under /proc/driver/nvidia, the GPUs'
# PCI entries (their NUMA node, their BARs) under /sys/bus/pci and /sys/devices, the module's
# parameters. Read-only; a sandbox of a CPU-only rubric sees none of it.
GPU_READ = ["/proc/driver/nvidia", "/sys/bus/pci", "/sys/devices", "/sys/module/nvidia"]
DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]
GPU_IOCTLS_ENV = "GRADER_GPU_IOCTLS"  # "narrow": the allowlist's narrowed GPU ioctl rule
GPU_MEMORY_ENV = "GRADER_GPU_MEMORY_MB"  # the sandbox's GPU memory cap, read by the CNN drivers


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
    # The sandbox may use the machine's GPUs (a check of its rubric runs on ``cuda`` or
    # ``any``): their device files are bound and granted, the driver's ioctls allowed, its
    # /proc and /sys entries readable. Off, a sandbox sees no GPU even on a GPU machine.
    gpu: bool = False
    # What the CUDA caching allocator of a sandbox that may use a GPU may hold, MiB (the CNN
    # drivers apply it before they build the student's model); None: no cap of its own.
    gpu_memory_mb: int | None = None


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs the worker: the harness's own, or a course environment's
    (:mod:`grader.rubric.environments`), whose folder the sandbox may read."""

    executable: str = sys.executable
    root: str | None = None  # a course environment's folder; None: the harness's Python


def system_paths(gpu: bool = False) -> list[str]:
    """What every worker may read besides the system's and Python's trees: parts of /etc,
    /proc and /sys (with ``gpu``, on a machine that has one, the GPU driver's too)."""
    paths = [f"/etc/{name}" for name in ETC] + PROC + SYS
    return paths + (GPU_READ if sandbox_gpu_devices(gpu) else [])


def gpu_devices() -> list[str]:
    """The machine's GPU device files (NVIDIA's ``/dev/nvidia*``, the DRM nodes)."""
    return sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*"))


def sandbox_gpu_devices(gpu: bool) -> list[str]:
    """The GPU device files a sandbox gets: the machine's where its limits allow a GPU
    (:attr:`Limits.gpu`), none otherwise."""
    return gpu_devices() if gpu else []


def narrow_gpu_ioctls() -> bool:
    """Whether GPU sandboxes get the allowlist's narrowed ioctl rule (``GRADER_GPU_IOCTLS=
    narrow``: NVIDIA's and nvidia-uvm's requests only) instead of every ioctl; unverified on
    a GPU until ``benchmarks/gpu_check.py`` passes with it."""
    return os.environ.get(GPU_IOCTLS_ENV, "") == "narrow"


def confinement(wanted: set[str], lease, read: list[str], write: list[str],
                protect: list[int], python: list[str] | None = None, namespaces: bool = False,
                unwritable: list[str] | None = None, witnesses: tuple[str, ...] = (),
                drop_capabilities: bool = True, gpu: bool = False) -> dict:
    """The ``confine`` part of a launch spec (see ``worker/confine``).

    ``read`` and ``write`` are granted as they are; the system and ``python`` (the folders
    of the worker's interpreter and packages, default the harness's) are granted as trees
    with every hidden place carved out. ``verify`` asks the worker to prove the result:
    every witness of a hidden place unreadable, every folder of ``unwritable`` unwritable.
    ``namespaces``: the sandbox has namespaces of its own (bubblewrap), which the syscall
    allowlist relies on for Unix sockets. ``drop_capabilities``: a root worker without a uid
    of its own at least gives up its capabilities (part of the uid layer: with every layer
    turned off, nothing is dropped). ``gpu``: the sandbox may use the machine's GPUs (its
    device files granted, the driver's ioctls allowed); without it, none.
    """
    devices = sandbox_gpu_devices(gpu)
    spec: dict = {"identity": {"uid": lease.uid, "gid": lease.gid} if "uid" in wanted else None,
                  "drop_capabilities": drop_capabilities}
    hidden = installation.hidden_paths()
    if "landlock" in wanted:
        spec["landlock"] = {"read": read, "read_trees": SYSTEM + (python or list(installation.python_roots())),
                            "hidden": hidden, "write": write, "devices": DEVICES + devices}
    if "seccomp" in wanted:
        spec["seccomp"] = {"protect_pids": protect, "rules": syscall_policy.load().rules(
            namespaces=namespaces, gpu=bool(devices), narrow_gpu=narrow_gpu_ioctls())}
    if "landlock" in wanted or namespaces:
        other_process = ["/proc/1/cmdline"] if "landlock" in wanted else []  # not its own
        spec["verify"] = {"unreadable": installation.witnesses(hidden) + list(witnesses)
                          + other_process,
                          "unwritable": unwritable or ["/"]}
    return spec


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
    devices = sandbox_gpu_devices(limits.gpu)
    gpu_sys = [path for path in GPU_READ if path.startswith("/sys/")] if devices else []
    on_the_way = [folder for folder in _ancestors(["/etc/x", *python, "/scratch", *devices,
                                                   *gpu_sys])
                  if folder != "/dev"]  # /dev is bubblewrap's own (--dev)
    for folder in on_the_way:
        args += ["--perms", "0755", "--dir", folder]
    for device in devices:  # only a GPU rubric's sandbox: the driver's device files
        args += ["--dev-bind", device, device]
    args += _system_binds() + [arg for root in python for arg in ("--ro-bind", root, root)]
    args += _gpu_read_binds(devices)
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


def _gpu_read_binds(devices: list[str]) -> list[str]:
    """The driver's entries in /sys, read-only, for a sandbox given GPU device files (its
    /proc is bubblewrap's own, which shows /proc/driver/nvidia)."""
    if not devices:
        return []
    return [arg for path in GPU_READ if path.startswith("/sys/") and os.path.exists(path)
            for arg in ("--ro-bind", path, path)]


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
