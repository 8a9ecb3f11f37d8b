"""Warm workers: one pre-imported interpreter per slot that forks each sandbox (a zygote).

A cold sandbox starts an interpreter and imports numpy (and torch, for the CNN assignment)
before the student's first line runs, once per submission. A warm one is forked from a
zygote (``worker/zygote.py``) that did that once for its slot: a grading process keeps one
idle zygote per kind (:class:`Key`) and lends it to one :class:`~grader.sandbox.SandboxSession`
at a time. The forked child applies the same isolation layers as a cold worker before it
imports student code, and the zygote kills what a sandbox left and empties the sandbox's
writable folders before it reports the sandbox ended.

The zygote runs under the same bubblewrap namespaces a cold worker gets, with its slot
folder (which holds the workspace of the one sandbox it serves) bound at
:data:`~grader.sandbox.launcher.SLOT`. Warm workers are used only where the machine
enforces every guarantee of :func:`~grader.sandbox.isolation.guarantees`: there no sandbox
can reach the zygote (another uid, Landlock's ptrace and signal scopes, seccomp, a zygote
that is not dumpable) or leave a process behind for the next one. With resource limits
only, or where a zygote cannot start, sandboxes start cold. ``GRADER_WARM=0`` turns warm
workers off.

The grader believes the zygote's reports only about the process it forked (its exit
status); the forked sandbox's pid comes from the kernel (``SCM_CREDENTIALS``), and the
sandbox still answers each request under the grader's deadlines and caps.
"""

from __future__ import annotations

import ast
import atexit
import functools
import json
import multiprocessing.util
import os
import secrets
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader import workdirs
from grader.sandbox import isolation, launcher, mounts

WARM_ENV = "GRADER_WARM"
# Libraries a zygote may import for every sandbox of its slot: large, and never a student's
# own module name (a submission that ships a file of one of these names starts cold).
PRELOADABLE = ("numpy", "scipy", "torch", "torchvision", "cv2", "skimage", "PIL")
START_TIMEOUT_S = 120.0  # a zygote that preloads torch on a loaded machine takes seconds
EXIT_TIMEOUT_S = 30.0
FORK_TIMEOUT_S = 5.0  # a fork and its first word take milliseconds; past this, start cold
_UCRED = struct.Struct("3i")  # pid, uid, gid


class ZygoteError(Exception):
    """A zygote could not start or answer: its sandboxes start cold instead."""


@dataclass(frozen=True)
class Key:
    """What decides which zygote may fork a sandbox: the interpreter, what it preloaded, the
    sizes of bubblewrap's tmpfs folders, whether it hands out uids (a root grader), the
    isolation layers it was started under, and whether its sandboxes may use a GPU (the
    device files are bound when bubblewrap starts the zygote: one started without them
    cannot fork a GPU sandbox, nor one with them a CPU sandbox)."""

    interpreter: mounts.Interpreter
    preload: tuple[str, ...]
    scratch_mb: int
    tmp_mb: int
    keep_root: bool
    layers: tuple[str, ...] = ()
    gpu: bool = False


def why_cold() -> str | None:
    """Why sandboxes start cold on this machine (``None``: they may start warm)."""
    if os.environ.get(WARM_ENV, "1") == "0":
        return f"warm workers are turned off ({WARM_ENV}=0)"
    if sys.platform != "linux" or not hasattr(socket, "send_fds"):
        return "warm workers need Linux"
    missing = isolation.missing_guarantees(isolation.layers_here())
    if missing:
        return ("warm workers need every isolation guarantee, and nothing here stops a "
                f"submission from: {'; '.join(isolation.EXPLAINED[g] for g in missing)}")
    return None


@functools.lru_cache(maxsize=16)
def preload_for(kit: Path) -> tuple[str, ...]:
    """The :data:`PRELOADABLE` libraries the stubs in the folder ``kit`` import (numpy is
    always loaded): what every submission of that assignment will import. Read once per kit
    and process (every grading asks)."""
    found: set[str] = set()
    for stub in sorted(kit.glob("*.py")) if kit.is_dir() else []:
        try:
            tree = ast.parse(stub.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return tuple(name for name in PRELOADABLE if name in found and name != "numpy")


def shadows(folder: Path, preload: tuple[str, ...]) -> bool:
    """Whether the submission folder ``folder`` has a module of a preloaded library's name
    (a warm worker would import the library instead of it; a cold one imports the file)."""
    return any((folder / f"{name}.py").exists() or (folder / name).is_dir() for name in preload)


class WarmProcess:
    """A sandbox forked by a zygote, as the grader sees it: the kernel's word for its pid,
    and the exit status (``Popen.returncode``'s convention) that its zygote reports."""

    def __init__(self, zygote: Zygote, token: str, pid: int):
        self._zygote, self.token, self.pid = zygote, token, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._zygote.collect(timeout_s=0.0)
        return self.returncode

    def wait(self) -> int:
        """Block until the zygote reports the exit (after killing leftovers and wiping)."""
        ends = time.monotonic() + EXIT_TIMEOUT_S
        while self.returncode is None:
            if not self._zygote.collect(timeout_s=max(0.0, ends - time.monotonic())):
                self._zygote.stop()  # silent or gone: it forks nothing more
                self.returncode = -9
        return self.returncode


class Zygote:
    """One warm interpreter and its slot folder, forking one sandbox at a time."""

    def __init__(self, key: Key):
        self.key = key
        self.slot = workdirs.make("slot-")
        self._log = self.slot.with_name(f"{self.slot.name}.log")  # not in the slot, which
        # its sandboxes may read
        os.chmod(self.slot, 0o711 if os.geteuid() == 0 else 0o700)
        self._children: dict[str, WarmProcess] = {}
        self._proc: subprocess.Popen | None = None
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    @property
    def usable(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def fork(self, spec: dict, env: dict[str, str], cwd: str, fds: list[int],
             deadline: float, cgroup_entries: Sequence[int] = ()) -> WarmProcess:
        """Fork a sandbox with launch ``spec``, environment ``env`` and working folder ``cwd``;
        ``fds``: its request, reply and control pipes and its output; ``cgroup_entries``: its
        cgroup leaf's entry files, open for writing, through which it moves itself into the
        leaf before it forks anything (the caller closes its own copies of both). Raises
        :class:`ZygoteError` if the zygote does not fork in time."""
        if not self.usable:
            raise ZygoteError("the zygote is not running")
        while self.collect(timeout_s=0.0):  # the reports of sandboxes not waited for
            pass
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        token = secrets.token_hex(8)
        message = {"token": token, "spec": spec, "env": env, "cwd": cwd}
        try:
            socket.send_fds(self._control, [json.dumps(message).encode()],
                            [*fds, theirs.fileno(), *cgroup_entries])
            theirs.close()
            pid = _peer_pid(ours, deadline)
        except OSError as exc:
            self.stop()
            raise ZygoteError(f"the zygote did not fork ({exc})") from None
        finally:
            theirs.close()
            ours.close()
        child = self._children[token] = WarmProcess(self, token, pid)
        return child

    def collect(self, timeout_s: float) -> bool:
        """Read the zygote's ``exited`` reports for up to ``timeout_s``; ``False`` when it is
        gone or said nothing in that time."""
        if self._proc is None:
            return False
        readable, _, _ = select.select([self._control], [], [], timeout_s)
        if not readable:
            return False
        data = self._control.recv(1 << 16)
        if not data:
            self.stop()
            return False
        report = json.loads(data)
        child = self._children.pop(str(report.get("exited")), None)
        if child is not None:
            child.returncode = os.waitstatus_to_exitcode(int(report["status"]))
        return True

    def close(self) -> None:
        """End the zygote and remove its slot folder."""
        self.stop()
        self._log.unlink(missing_ok=True)
        if self.slot.exists():
            workdirs.remove(self.slot)

    def stop(self) -> None:
        """End the zygote (its sandboxes end with their control pipes); the slot folder stays
        for the workspace in it, which a cold worker can still run."""
        if self._proc is not None:
            self._control.close()
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        for child in self._children.values():
            child.returncode = -9 if child.returncode is None else child.returncode
        self._children.clear()

    def _start(self) -> None:
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        limits = mounts.Limits(scratch_mb=self.key.scratch_mb, tmp_mb=self.key.tmp_mb,
                               gpu=self.key.gpu)
        plan = launcher.zygote_plan(self.slot, theirs.fileno(), self.key.preload, limits,
                                    self.key.keep_root, self.key.interpreter)
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(
                plan.argv, env=plan.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(theirs.fileno(),), start_new_session=True, cwd=self.slot)
        theirs.close()
        readable, _, _ = select.select([self._control], [], [], START_TIMEOUT_S)
        ready = json.loads(self._control.recv(1 << 16) or b"{}") if readable else {}
        if not ready.get("ready"):
            raise ZygoteError(f"the zygote did not start ({self._log_tail()})")
        if ready.get("threads") != 1:
            raise ZygoteError(f"the zygote runs {ready.get('threads')} threads after loading "
                              f"{', '.join(ready.get('preloaded', []))}: forking it is unsafe")
        if ready.get("cuda"):  # a forked CUDA context is broken, and would be every sandbox's
            raise ZygoteError(f"the zygote initialised CUDA ({ready['cuda']}) while loading "
                              f"{', '.join(ready.get('preloaded', []))}: forking it is unsafe")

    def _log_tail(self) -> str:
        try:
            text = self._log.read_text(errors="replace").strip()
        except OSError:
            text = ""
        return text.splitlines()[-1][:300] if text else "no output"


def _peer_pid(hello: socket.socket, deadline: float) -> int:
    """The pid, in this process's namespace, of the process that wrote to ``hello`` (as the
    kernel attached it): the forked sandbox's supervisor."""
    hello.settimeout(max(0.1, min(deadline - time.perf_counter(), FORK_TIMEOUT_S)))
    data, ancillary, _, _ = hello.recvmsg(1, socket.CMSG_SPACE(_UCRED.size))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and data:
            return _UCRED.unpack(payload[:_UCRED.size])[0]
    raise OSError("the forked sandbox did not report")


_lock = threading.Lock()
_idle: dict[Key, list[Zygote]] = {}


def borrow(key: Key) -> Zygote | None:
    """An idle zygote of ``key`` (started if there is none); ``None``: start cold (where
    :func:`why_cold` says so, or a zygote could not start: said once)."""
    if why_cold() is not None:
        return None
    with _lock:
        waiting = _idle.get(key, [])
        while waiting:
            zygote = waiting.pop()
            if zygote.usable:
                return zygote
            zygote.close()
    _close_all_at_exit()
    try:
        return Zygote(key)
    except (ZygoteError, OSError) as exc:
        isolation.say_once(f"sandbox: warm workers could not start ({exc}); each sandbox "
                           "starts a fresh interpreter")
        return None


def give_back(zygote: Zygote) -> None:
    """Return ``zygote`` to the idle ones (closed if it stopped working)."""
    if not zygote.usable:
        zygote.close()
        return
    with _lock:
        _idle.setdefault(zygote.key, []).append(zygote)


def close_all() -> None:
    """End every idle zygote of this process and remove their slots (at exit: a pool worker
    leaves through ``multiprocessing``'s finalizers, which skip ``atexit``)."""
    with _lock:
        zygotes = [z for waiting in _idle.values() for z in waiting]
        _idle.clear()
    for zygote in zygotes:
        zygote.close()


def _close_all_at_exit() -> None:
    """Have this process end its zygotes when it exits: ``atexit`` for a plain one, and
    ``multiprocessing``'s finalizers for a pool worker (which leaves without ``atexit``, and
    whose finalizers are cleared when it is forked, so this runs once per process)."""
    global _registered_in
    if _registered_in != os.getpid():
        _registered_in = os.getpid()
        atexit.register(close_all)
        multiprocessing.util.Finalize(None, close_all, exitpriority=10)


_registered_in = 0
