"""A warm start for sandboxes: one pre-imported interpreter that forks every sandbox of a slot.

Started by :mod:`grader.sandbox.zygote` as ``python -I zygote.py SPEC`` (``SPEC`` is JSON:
its control socket, the libraries to preload, the folders to empty between sandboxes)
under the same namespaces and mounts a cold worker gets, or as a plain process. It imports
numpy, the worker's request loop and the preload libraries once — never student code, never
the harness. It hands each launch spec the grader sends on its control socket (a JSON
message carrying the new sandbox's five file descriptors and its cgroup leaf's entry files)
to a *spare*: a child it forked while idle, once it had prepared what is the same for every
sandbox of the slot (the carved Landlock ruleset, the compiled syscall allowlist:
``confine.prepare``) and frozen its objects out of the collector's reach (a child's
collection would otherwise copy every page that holds one). The spare becomes that sandbox
exactly as ``main.py`` would: it closes everything that is not its own, takes the sandbox's
environment, tells the grader its pid through the kernel (``SCM_CREDENTIALS``, which
translates it out of a PID namespace), becomes the supervisor (which moves itself into its
cgroup leaf) and forks the worker, which confines itself before it imports student code.

Nothing of one sandbox reaches the next:

- the zygote is not dumpable (``PR_SET_DUMPABLE`` 0): no process of its uid can trace it
  or open its ``/proc/PID/mem``, beside what Landlock, seccomp and the uid layer stop;
- each child is a fork: whatever a student changes in numpy or in memory dies with it;
- the zygote is a child subreaper: what a sandbox's tree leaves behind comes back here and
  is killed before the grader hears that the sandbox ended, and before the next fork;
- then it empties the namespace's writable folders (``wipe``), so no file is left for the
  next student (outside bubblewrap the grader empties the scratch folder itself), and only
  then forks the next spare: no spare exists while a sandbox of its slot runs.

The zygote never touches a GPU: importing torch does not initialise CUDA, and nothing here
asks whether a GPU exists (``torch.cuda.is_available()`` would initialise the driver). A
process that forks after CUDA was initialised hands its children a broken context, so the
zygote reports in ``ready`` whether CUDA was initialised or a GPU device file is open, and
the grader refuses such a zygote (its sandboxes start cold). Each GPU sandbox initialises
CUDA itself, and its GPU memory goes back to the device when it exits.

Messages to the grader are JSON on the control socket: ``ready`` (pid, threads, what was
preloaded, what of CUDA it holds) and ``exited`` (a sandbox's token and wait status).
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import importlib
import json
import os
import select
import socket
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import confine  # noqa: E402
import main  # noqa: E402 - the cold start's supervisor code, shared
import supervisor  # noqa: E402

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4
_libc = ctypes.CDLL(None, use_errno=True)
MAX_MESSAGE = 1 << 20
FDS = ("request", "reply", "control", "output", "hello")  # then the cgroup entries, if any
MAX_CGROUP_ENTRIES = 8


def serve(spec: dict) -> int:
    """Preload, say ``ready``, then fork one sandbox per launch spec until the grader hangs up."""
    control = socket.socket(fileno=spec["control"])
    _libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)  # the grader's death ends the slot
    _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    supervisor.become_subreaper()
    preloaded = _preload(spec["preload"])
    _send(control, {"ready": True, "pid": os.getpid(), "preloaded": preloaded,
                    "threads": len(os.listdir("/proc/self/task")), "cuda": cuda_held()})
    spare: Spare | None = None
    while True:
        data, fds = _receive(control)
        if data is None:
            return spare.discard() if spare else 0
        message = json.loads(data)
        rules = message["spec"]["confine"]
        if spare is None or spare.prepared != confine.prepared_part(rules):  # forked before
            if spare:
                spare.discard()
            spare = _prepared_spare(control, rules)
        child, handle = spare.start(data, fds)
        status = _await(child, handle)
        supervisor.kill_descendants()  # what the sandbox left comes back here: killed
        for folder in spec["wipe"]:
            _empty(folder)
        spare = _prepared_spare(control, rules)  # now, while the grader is busy elsewhere
        _send(control, {"exited": message["token"], "status": status})


def _prepared_spare(control: socket.socket, rules: dict) -> Spare:
    """A spare forked once what ``rules`` (a launch spec's confinement) shares with every
    sandbox of the slot is carved, built and compiled, here, for it to inherit (checked
    again, cheaply, each time: a changed installation is carved anew)."""
    confine.prepare(rules)
    return Spare(control, rules)


def _preload(names: list[str]) -> list[str]:
    import server  # noqa: F401 - numpy, the request loop and the drivers' package

    loaded = []
    for name in names:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception:  # noqa: BLE001 - not installed here: the student imports it, or not
            continue
    return loaded


def cuda_held() -> str | None:
    """What of CUDA this process holds, which no fork may inherit (``None``: nothing): an
    initialised ``torch.cuda``, or an open GPU device file (the driver was initialised, by
    any library). Asks nothing of the driver itself."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    try:
        if cuda is not None and cuda.is_initialized():
            return "torch.cuda is initialised"
    except Exception:  # noqa: BLE001 - a torch without it: nothing initialised through it
        pass
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith(("/dev/nvidia", "/dev/dri/")):
            return f"{target} is open"
    return None


class Spare:
    """The next sandbox's first process, forked while the zygote is idle (after the last
    sandbox ended and its leftovers were killed and its folders wiped) and waiting for its
    launch spec: the fork and the child's first turn on a CPU (3 ms here) are no part of the
    next sandbox's start. ``prepared``: the part of a launch spec's confinement that
    :func:`confine.prepare` had prepared when it was forked (it inherited that)."""

    def __init__(self, control: socket.socket, confine_spec: dict):
        self.prepared = confine.prepared_part(confine_spec)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # the zygote's objects: never walked by a child's collector (each walk
        # wrote to every page that holds one, copying it: 5-8 ms of a sandbox's start)
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                ours.close()
                code = _await_spec(theirs, control)
            finally:
                _exit(code)
        theirs.close()
        self._socket = ours

    def start(self, data: bytes, fds: list[int]) -> tuple[int, int | None]:
        """Hand it its launch spec and descriptors; its pid and a pidfd to wait on (or ``None``)."""
        try:
            socket.send_fds(self._socket, [data], fds)
        finally:
            self._socket.close()
            for fd in fds:
                os.close(fd)
        try:
            return self.pid, os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            return self.pid, None

    def discard(self) -> int:
        """End the spare (it reads the end of the stream and exits); 0."""
        self._socket.close()
        os.waitpid(self.pid, 0)
        return 0


def _await_spec(spare: socket.socket, control: socket.socket) -> int:
    """In a spare: wait for the launch spec, then become that sandbox (0 when none comes)."""
    zygote = os.getppid()
    _libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)  # a spare the grader never used ends with the slot
    if os.getppid() != zygote:
        return 1
    control.close()
    data, fds = _receive(spare)
    spare.close()
    if data is None:
        return 0
    return _become_sandbox(json.loads(data), fds, zygote)


def _become_sandbox(message: dict, fds: list[int], zygote: int) -> int:
    """In a spare: keep only the sandbox's descriptors, take its environment, report the pid,
    then supervise (``main.sandbox``); runs before any student code, like the cold start."""
    mine, cgroup_entries = dict(zip(FDS, fds)), fds[len(FDS):]
    os.dup2(mine["output"], 1)
    os.dup2(mine["output"], 2)
    os.close(mine["output"])
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    keep = [mine[name] for name in ("request", "reply", "control", "hello")]
    keep += cgroup_entries + confine.held()
    _close_all_but([0, 1, 2, *keep])
    os.setsid()
    _libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)  # the sandbox is traceable by itself, as cold
    os.environ.clear()
    os.environ.update(message["env"])
    os.chdir(message["cwd"])
    _fresh_state()
    hello = socket.socket(fileno=mine["hello"])
    hello.sendall(b"h")  # the kernel attaches this process's pid, as the grader sees it
    hello.close()
    spec = message["spec"]
    spec["fds"] = {name: mine[name] for name in ("request", "reply", "control")}
    if cgroup_entries:  # the supervisor moves itself into its leaf before it forks
        spec["cgroup"] = cgroup_entries
    if "seccomp" in spec["confine"]:
        spec["confine"]["seccomp"]["protect_pids"].append(zygote)
    return main.sandbox(spec)


def _await(child: int, handle: int | None) -> int:
    """Wait for the sandbox ``child`` to exit; its wait status. (A grader that dies meanwhile
    ends the sandbox through its control pipe, and this zygote through ``PDEATHSIG``.)"""
    while True:
        select.select([handle] if handle is not None else [], [], [], 5.0 if handle else 0.02)
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            if handle is not None:
                os.close(handle)
            return status


def _empty(folder: str) -> None:
    """Remove everything in ``folder`` without following links (the folder stays)."""
    import shutil

    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            continue


def _fresh_state() -> None:
    """What a cold interpreter would have and a fork inherits from the zygote: fresh random
    state, and no temporary folder chosen yet (``tempfile`` caches the zygote's ``TMPDIR``,
    its slot folder, which the sandbox may not write: it must find its own scratch)."""
    for name in ("random", "numpy.random"):
        module = sys.modules.get(name)
        if module is not None:
            module.seed()
    tempfile.tempdir = None


def _close_all_but(keep: list[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                continue


def _send(control: socket.socket, message: dict) -> None:
    control.sendall(json.dumps(message).encode())


def _receive(source: socket.socket) -> tuple[bytes | None, list[int]]:
    """The next launch spec (JSON) and its descriptors; ``(None, [])`` when the other end (the
    grader, or for a spare its zygote) hung up."""
    try:
        data, fds, _, _ = socket.recv_fds(source, MAX_MESSAGE, len(FDS) + MAX_CGROUP_ENTRIES)
    except OSError:
        return None, []
    if not data:
        return None, []
    return data, fds


def _exit(code: int) -> None:
    """Leave a forked process as an interpreter would: exit handlers, flushed output."""
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    sys.exit(serve(json.loads(sys.argv[1])))
