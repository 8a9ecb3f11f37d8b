"""One sandboxed worker per submission: start, call, time out, kill, restart.

The parent (trusted) side of the boundary. It sends the inputs of one call,
waits for the reply under a wall-clock deadline while draining the student's
output, and turns whatever happened into a :class:`CallOutcome`. It never
decides a score: that is the checks' job.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.errors import GraderError
from grader.sandbox import (cgroup, cpu, installation, isolation, launcher, mounts, uids,
                            workspace, zygote)
from grader.sandbox.capture import Capture
from grader.sandbox.processes import (busy, cpu_seconds, descendants, folder_usage, kill_tree,
                                      tree_cpu_seconds, tree_memory_mib)
from grader.worker import protocol

WATCH_S = 0.25  # how often the parent measures the tree's memory and scratch while it waits
MAX_SCRATCH_FILES = 10_000
SETTLE_S = 0.05  # how often a reply's leftover children are looked at
SUPERVISOR_MB = 64  # the supervisor's interpreter, in the cgroup beside the student's tree
PIPE_BYTES = 1 << 20  # the request and reply pipes' buffers (Linux's pipe-max-size default)


@dataclass
class CallOutcome:
    """What happened to one call, as observed by the parent.

    ``status`` is one of ``returned``, ``raised``, ``timeout``, ``memory``,
    ``crashed``, ``missing_module``, ``missing_function``, ``import_failed``
    or ``protocol`` (the worker sent something malformed or too large).
    ``outputs`` holds the returned values (arrays, scalars, ``None``, or an
    ``{"unsupported": type}`` marker); ``seconds`` is the wall time of the call
    measured by the parent.
    """

    status: str
    outputs: list[Any] = field(default_factory=list)
    returned_tuple: bool = False
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0
    stdout: str = ""
    step: int | None = None
    during_import: bool = False
    cpu_s: float | None = None  # CPU-seconds of the worker's tree during the call (parent-measured)
    crowded_out: bool = False  # timed out while it got less than a fair share of a core


@dataclass(frozen=True)
class Ref:
    """An earlier step's result (``index`` into its tuple, or ``None`` for all of it)."""

    step: int
    index: int | None = None


@dataclass(frozen=True)
class Each:
    """An array whose slices along axis 0 are passed one per call (the step runs once per slice)."""

    array: np.ndarray


@dataclass(frozen=True)
class Step:
    """One function call inside a :meth:`SandboxSession.run` request.

    ``module`` defaults to the request's module (a pipeline may span several,
    e.g. ``student_harris`` then ``student_sift``).
    """

    function: str
    args: list[Any]
    module: str | None = None


def _encode_arg(arg: Any, arrays: list[np.ndarray]) -> dict:
    if isinstance(arg, Ref):
        return {"ref": [arg.step, arg.index]}
    if isinstance(arg, Each):
        arrays.append(np.asarray(arg.array))
        return {"array": len(arrays) - 1, "each": True}
    if isinstance(arg, np.ndarray):
        arrays.append(arg)
        return {"array": len(arrays) - 1}
    return {"value": arg.item() if isinstance(arg, np.generic) else arg}


class SandboxError(GraderError):
    """The sandbox itself could not run here: a failure of the harness, not of the student."""


class _Deadline(Exception):
    pass


class _WorkerGone(Exception):
    pass


class _OverMemory(Exception):
    pass


class SandboxSession:
    """A reusable worker for one submission; restarted after a timeout or crash.

    Use as a context manager; :meth:`close` kills the worker's whole process
    tree and removes its workspace. ``layers`` lists the isolation layers the
    running (or last) worker enforced, as it reported them before any student
    code ran. ``interpreter`` is the Python the worker runs (a course
    environment's, :mod:`grader.rubric.environments`; default the harness's).

    Where the machine allows it, the worker is forked from a warm, pre-imported zygote
    (:mod:`grader.sandbox.zygote`) that also loaded ``preload`` (libraries every submission
    of the assignment imports); ``warm`` says whether the last one was.
    """

    def __init__(self, submission_dir: Path, module_dir: str = ".", *,
                 limits: mounts.Limits = mounts.Limits(), numpy_aliases: bool = False,
                 import_timeout_s: float = 60.0, max_output_mb: int = 256,
                 interpreter: mounts.Interpreter = mounts.Interpreter(),
                 preload: tuple[str, ...] = ()):
        self._submission = Path(submission_dir).resolve()
        self._interpreter = interpreter
        self._module_dir = module_dir
        self._limits = limits
        self._aliases = numpy_aliases
        self._import_timeout = import_timeout_s
        self._max_payload = max_output_mb << 20
        self._preload = preload
        self._proc: subprocess.Popen | zygote.WarmProcess | None = None
        self._zygote: zygote.Zygote | None = None
        self._imported: set[str] = set()
        self._import_failures: dict[str, CallOutcome] = {}
        self._import_stdout = ""
        self._workspace: workspace.Workspace | None = None
        self._lease: uids.Lease | None = None
        self._cpu: cpu.CpuMeter | None = None  # the CPU budget of the request in flight, if any
        self._cgroup: cgroup.Leaf | None = None
        self._alone: cpu.Alone | None = None  # this machine's lock of running sandboxes
        self._timeout_s = 0.0  # the wall-clock limit of the request in flight
        self.isolation = ""
        self.layers: tuple[str, ...] = ()
        self.missing: dict[str, str] = {}  # layers this sandbox went without, and why
        self._running: set[int] = set()  # the sandbox's processes after its last reply
        self._started_with = 0  # how many it had when its worker said ready
        self._ooms_seen = 0  # the kernel's OOM kills in its cgroup, as of its last reply
        self.warm = False

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def missing_layers(self) -> dict[str, str]:
        """The isolation layers this sandbox went without, and why: those this machine lacks
        (or that failed their probe) and those left out for this sandbox alone."""
        if not self.isolation:
            return {}
        return {**isolation.available().missing, **self.missing}

    @property
    def source_root(self) -> Path:
        """The read-only copy of the submission that the worker imports (made on first use)."""
        return self._ensure_workspace().submission

    def call(self, module: str, function: str, args: list[Any], timeout_s: float) -> CallOutcome:
        """Call ``module.function(*args)`` in the worker; ``args`` are arrays or JSON scalars."""
        return self.run(module, [Step(function, args)], None, timeout_s)

    def run(self, module: str, steps: list[Step], returns: list[Ref] | None,
            timeout_s: float, cpu_limit_s: float | None = None) -> CallOutcome:
        """Run ``steps`` in one request, within one deadline; return the values ``returns`` names.

        Every module the steps use is imported first (an import failure is the outcome).

        With ``returns=None`` the outputs are the last step's return value
        (unpacked if it is a tuple). Objects such as a layer's ``cache`` stay in
        the worker: a later step refers to them with :class:`Ref`.

        ``cpu_limit_s`` caps the CPU-seconds the whole process tree may use for this request,
        as this process measures them (``/proc``): a budget the student's interpreter cannot
        misreport. Over it, the request is a ``timeout``; ``outcome.cpu_s`` is what it used
        (measured only for requests with a limit).
        """
        for name in dict.fromkeys([module] + [s.module for s in steps if s.module]):
            if name in self._import_failures:
                return self._import_failures[name]
            prelude = self._ensure_imported(name)
            if prelude is not None:
                return prelude
        arrays: list[np.ndarray] = []
        encoded = [{"function": step.function, "module": step.module or module,
                    "args": [_encode_arg(a, arrays) for a in step.args]} for step in steps]
        request = {"op": "run", "module": module, "steps": encoded, "max_bytes": self._max_payload,
                   "return": None if returns is None else [[r.step, r.index] for r in returns]}
        outcome = self._exchange(request, arrays, timeout_s, cpu_limit_s)
        if outcome.crowded_out and not self._machine().exclusive_now:
            return self._alone_again(module, steps, returns, timeout_s, cpu_limit_s)
        outcome.stdout, self._import_stdout = self._import_stdout + outcome.stdout, ""
        return outcome

    def _alone_again(self, *request) -> CallOutcome:
        """Run a request that timed out while the machine crowded it out once more, with no
        other sandbox of this user running (:class:`~grader.sandbox.cpu.Alone`)."""
        self._import_stdout = ""
        with self._machine().exclusive():
            again = self.run(*request)
        if again.status == "timeout":
            again.error += "; also when run again alone (it first timed out on a busy machine)"
        return again

    def _machine(self) -> cpu.Alone:
        if self._alone is None:
            self._alone = cpu.Alone()
        return self._alone

    def stop(self) -> None:
        """Kill the worker and everything it started; the next call starts a fresh one."""
        self._stop()

    def close(self) -> None:
        """Kill the worker and everything it started; remove its workspace."""
        self._stop()
        if self._workspace is not None:
            self._workspace.remove()
            self._workspace = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        if self._zygote is not None:
            zygote.give_back(self._zygote)
            self._zygote = None
        if self._alone is not None:
            self._alone.close()
            self._alone = None

    # -- worker lifecycle -------------------------------------------------

    def _ensure_imported(self, module: str) -> CallOutcome | None:
        if module in self._imported and self._proc is not None:
            return None
        request = {"op": "import", "module": module}
        outcome = self._exchange(request, [], self._import_timeout)
        if outcome.crowded_out and not self._machine().exclusive_now:
            with self._machine().exclusive():
                outcome = self._exchange(request, [], self._import_timeout)
        if outcome.status == "returned":
            self._imported.add(module)
            self._import_stdout += outcome.stdout
            return None
        if outcome.status == "raised":
            outcome.status = "import_failed"
        if outcome.status == "timeout":
            outcome.error = f"importing {module}.py did not finish within {self._import_timeout:g} s"
        outcome.during_import = True
        self._import_failures[module] = outcome
        return outcome

    def _ensure_workspace(self) -> workspace.Workspace:
        if self._workspace is None:
            if os.geteuid() == 0 and isolation.available().has("uid"):
                self._lease = self._own_uid()
            owner = (self._lease.uid, self._lease.gid) if self._lease else None
            self._zygote = self._borrow_zygote()
            self._workspace = workspace.create(self._submission, owner,
                                               self._zygote.slot if self._zygote else None)
        return self._workspace

    def _own_uid(self) -> uids.Lease | None:
        """A uid of the sandbox's own, unless it could not reach its course environment (a
        folder above it closed to other uids): then the sandbox runs without one, as root
        without capabilities, and :attr:`missing` says why."""
        closed = launcher.closed_to_sandbox(self._interpreter)
        if closed is None:
            return uids.acquire()
        self.missing["uid"] = (f"the sandbox's own uid cannot enter {closed}, on the way to the "
                               f"course environment {self._interpreter.root} (make it searchable: "
                               f"chmod o+x {closed}; or set GRADER_ENVS to a folder others can "
                               "enter)")
        return None

    def _kernel_memory_mb(self) -> int:
        """The cgroup's hard memory cap: the rubric's limit (which the watchdog enforces as a
        ``memory`` result) plus the sandbox's RAM-backed folders and the supervisor; what no
        poll sees (shared memory, tmpfs, page cache, forks between two polls) stops here."""
        return (self._limits.memory_mb + self._limits.scratch_mb + 2 * self._limits.tmp_mb
                + SUPERVISOR_MB)

    def _leaf_holds_all(self) -> bool:
        """Whether every process of the sandbox is in its cgroup leaf: its first process was
        born there, and none can write a cgroup file to leave (bubblewrap mounts them
        read-only, Landlock grants none, a uid of its own does not own them)."""
        return "cgroup" in self.layers and bool(
            {"bubblewrap", "landlock-filesystem", "uid"} & set(self.layers))

    def _processes(self) -> list[int]:
        """Every process of the sandbox: its cgroup's members, else its supervisor's tree."""
        if self._cgroup is not None and "cgroup" in self.layers:
            return self._cgroup.members()
        return [self._proc.pid, *descendants(self._proc.pid)] if self._proc is not None else []

    def _check_leftovers(self) -> None:
        """Before a request: what processes left by earlier calls did meanwhile counts against
        this one (the kernel killed one for memory, or they hold more than the limit now)."""
        if self._ooms() > self._ooms_seen:
            raise _OverMemory(self._kernel_memory_error() + ", in processes an earlier call "
                              "left running")
        if len(self._running) > self._started_with:
            self._watch()

    def _settle(self, cap: float) -> None:
        """After a reply, while processes the request started are still at work (children
        that outlive the call, on a machine too busy for them to finish in time), go on
        watching them until they rest or end: what they take counts against the call, and one
        still at work at ``cap`` makes it a timeout. Honest calls leave nothing new running
        and pass straight through (one look); a sleeping daemon costs one more measurement."""
        now = set(self._processes())
        while any(busy(pid) for pid in now - self._running):
            if time.perf_counter() > cap:
                raise cpu.OverCpu("processes it started were still running long after it returned")
            self._watch()
            time.sleep(SETTLE_S)
            now = set(self._processes())
        if now - self._running:
            self._watch()  # what the ones left behind hold now, once
        self._running, self._ooms_seen = now, self._ooms()

    def _ooms(self) -> int:
        """Processes of this worker's tree the kernel killed for memory (0 without a cgroup)."""
        return self._cgroup.oom_kills() if self._cgroup is not None else 0

    def _kernel_memory_error(self) -> str:
        return (f"the kernel stopped it: its processes used more than the "
                f"{self._kernel_memory_mb()} MiB its cgroup allows (the {self._limits.memory_mb} "
                "MiB limit, its folders in RAM and the supervisor; shared memory and files in "
                "RAM count too)")

    def _cpu_meter(self, timeout_s: float, cpu_limit_s: float | None) -> cpu.CpuMeter:
        """The CPU-seconds of the sandbox for a request: its cgroup's exact count (exited
        processes included), else the sum over its live process tree from /proc, starting
        from the processes its last reply left (no sweep of /proc before every request)."""
        leaf, pid = self._cgroup, self._proc.pid if self._proc is not None else 0
        if leaf is not None and "cgroup-cpu-time" in self.layers:
            return cpu.CpuMeter(lambda: leaf.cpu_seconds() or 0.0, timeout_s, cpu_limit_s)
        return cpu.CpuMeter(lambda: tree_cpu_seconds(pid), timeout_s, cpu_limit_s,
                            start=cpu_seconds(self._running))

    def _cgroup_entries(self) -> tuple[str, ...]:
        return tuple(self._cgroup.entry_files()) if self._cgroup is not None else ()

    def _borrow_zygote(self) -> zygote.Zygote | None:
        if zygote.shadows(self._submission / self._module_dir, self._preload):
            return None
        return zygote.borrow(zygote.Key(self._interpreter, self._preload, self._limits.scratch_mb,
                                        self._limits.tmp_mb, self._lease is not None,
                                        isolation.available().layers))

    def _start(self, deadline: float, capture: Capture) -> float:
        """Start a worker and read its ``ready``; return the deadline the request keeps (a
        fresh one after a warm fork that failed: the grader's failure costs the student
        nothing)."""
        space = self._ensure_workspace()
        self._marker = secrets.token_hex(8)
        self._cgroup = cgroup.create(self._kernel_memory_mb(), launcher.tasks_allowed()) \
            if isolation.available().has("cgroup") else None
        plan, deadline = self._launch(space, deadline)
        for fd in (self._request_w, self._reply_r, self._out_r):
            os.set_blocking(fd, False)
        self._out_open = True
        self._imported = set()
        header, _ = self._receive(deadline, capture)
        if not header.get("ready"):
            raise protocol.ProtocolError("the worker's first message was not 'ready'")
        if header.get("unreachable"):
            self._stop()
            raise SandboxError(f"the sandbox cannot reach its workspace "
                               f"({', '.join(map(str, header['unreachable']))}): a folder above "
                               "it is closed to the sandbox's uid; set TMPDIR to a folder under "
                               "/tmp")
        self._confirm_layers(plan, header)
        self._running, self._ooms_seen = set(self._processes()), 0
        self._started_with = len(self._running)
        return deadline

    def _launch(self, space: workspace.Workspace,
                deadline: float) -> tuple[launcher.LaunchPlan, float]:
        """Start the worker: forked by the session's zygote, or (without one, or if it fails)
        a fresh interpreter; each try on pipes of its own, so that a fork that failed half-way
        holds none of the pipes the cold worker gets."""
        if self._zygote is not None and self._zygote.usable:
            try:
                return self._with_pipes(lambda fds: self._fork_warm(space, fds, deadline)), deadline
            except zygote.ZygoteError as exc:
                if self._cgroup is not None:
                    self._cgroup.kill()  # whatever the failed fork started there
                isolation.say_once(f"sandbox: a warm worker failed ({exc}); starting cold")
                deadline = time.perf_counter() + self._timeout_s
        return self._with_pipes(lambda fds: self._start_cold(space, fds)), deadline

    def _with_pipes(self, start) -> launcher.LaunchPlan:
        """Make the session's pipes and run ``start`` with the worker's ends (request, reply,
        control, output), which are closed here once the worker holds them."""
        request_r, self._request_w = os.pipe()
        self._reply_r, reply_w = os.pipe()
        for pipe in (self._request_w, self._reply_r):
            _widen(pipe)
        self._out_r, out_w = os.pipe()
        control_r, self._control_w = os.pipe()
        ends = [request_r, reply_w, control_r, out_w]
        try:
            return start(ends)
        except BaseException:
            for fd in (self._request_w, self._reply_r, self._out_r, self._control_w):
                os.close(fd)
            raise
        finally:
            for fd in ends:
                os.close(fd)

    def _plan(self, space: workspace.Workspace, fds: list[int], slot: Path | None = None):
        return launcher.plan(space.submission, space.scratch, self._module_dir,
                             launcher.Fds(*fds[:3]), self._aliases, self._limits, self._marker,
                             self._lease, self._cgroup_entries(), self._interpreter, slot=slot,
                             witnesses=installation.sandbox_witnesses(self._submission))

    def _fork_warm(self, space: workspace.Workspace, fds: list[int],
                   deadline: float) -> launcher.LaunchPlan:
        assert self._zygote is not None
        plan = self._plan(space, fds, self._zygote.slot)
        where = launcher.places(space.submission, space.scratch, self._zygote.slot)
        entries = [os.open(path, os.O_WRONLY | os.O_CLOEXEC) for path in self._cgroup_entries()]
        try:
            self._proc = self._zygote.fork(plan.spec, plan.env, where.scratch, fds, deadline,
                                           entries)
        finally:
            for fd in entries:
                os.close(fd)
        self.isolation, self.warm = plan.isolation, True
        return plan

    def _start_cold(self, space: workspace.Workspace, fds: list[int]) -> launcher.LaunchPlan:
        plan = self._plan(space, fds)
        self._proc = subprocess.Popen(
            plan.argv, env=plan.env, stdin=subprocess.DEVNULL, stdout=fds[3], stderr=fds[3],
            pass_fds=tuple(fds[:3]), start_new_session=True, cwd=space.scratch)
        self.isolation, self.warm = plan.isolation, False
        return plan

    def _confirm_layers(self, plan: launcher.LaunchPlan, header: dict) -> None:
        """Keep the layers the worker says it enforced, of those asked for; warn about the rest.

        The worker reports before any student code has run, so the report can be believed.
        """
        asked = set(plan.layers) | {"no", "files"}  # "no-capabilities" with a root worker;
        # "files-verified" where the worker's self-test found every hidden path hidden
        kept = {str(item) for item in header.get("layers", []) if str(item).split("-")[0] in asked}
        kept.discard("no-new-privileges")
        if plan.isolation == "bubblewrap":
            kept.add("bubblewrap")
        kept |= set(plan.wrapped)
        if self._cgroup is not None and self._proc is not None and \
                self._proc.pid in self._cgroup.members():  # its first process was born there
            kept |= {"cgroup", *(f"cgroup-{control}" for control in self._cgroup.controls)}
        self.layers = tuple(sorted(kept))
        for problem in header.get("problems", []):
            isolation.say_once(f"sandbox: a layer could not be applied ({problem})")

    def _stop(self) -> None:
        if self._proc is not None:
            os.close(self._control_w)  # the supervisor kills its tree and exits
            self._end_processes(self._proc)
            for fd in (self._request_w, self._reply_r, self._out_r):
                os.close(fd)
            self._proc = None
            if self._workspace is not None:
                self._workspace.clear_scratch()
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        self._imported = set()

    def _end_processes(self, process: subprocess.Popen | zygote.WarmProcess) -> None:
        """Kill every process of the sandbox and return once they are gone. Where its cgroup
        leaf holds them all, the leaf's emptying is the proof: a warm sandbox's zygote then
        reports the exit later, while it wipes its folders (before it forks again)."""
        if self._leaf_holds_all() and self._cgroup is not None and self._cgroup.remove():
            self._cgroup = None
            if not self.warm:
                process.wait()  # exited already: reaped
            return
        if self._cgroup is not None:
            self._cgroup.kill()
        kill_tree(process.pid, f"{launcher.MARKER_ENV}={self._marker}".encode())
        process.wait()

    # -- one request / reply ---------------------------------------------

    def _exchange(self, request: dict, arrays: list[np.ndarray], timeout_s: float,
                  cpu_limit_s: float | None = None) -> CallOutcome:
        """Send one request and read its reply, holding this machine's shared sandbox lock
        (a re-run alone waits for it, and holds it exclusively)."""
        with self._machine().shared():
            return self._exchange_held(request, arrays, timeout_s, cpu_limit_s)

    def _exchange_held(self, request: dict, arrays: list[np.ndarray], timeout_s: float,
                       cpu_limit_s: float | None) -> CallOutcome:
        capture = Capture()
        started = time.perf_counter()
        deadline = started + timeout_s
        self._cpu, self._timeout_s = None, timeout_s  # no budget while the worker starts
        try:
            if self._proc is None:
                deadline = self._start(deadline, capture)
            assert self._proc is not None
            self._check_leftovers()
            ooms_before = self._ooms_seen  # as _check_leftovers just found it
            self._cpu = self._cpu_meter(timeout_s, cpu_limit_s)
            request_id = secrets.token_hex(8)  # unguessable: no answer before the question
            self._send(protocol.frames({**request, "id": request_id}, arrays), deadline, capture)
            header, out_arrays = self._receive(deadline, capture, request_id)
            self._settle(started + cpu.CpuMeter.WALL_CAP * timeout_s)
        except _Deadline:
            crowded = self._cpu is not None and self._cpu.crowded_out()
            self._stop()
            extra = self._cpu.extra_s if self._cpu else 0.0
            return CallOutcome("timeout", seconds=time.perf_counter() - started,
                               stdout=capture.text(), crowded_out=crowded,
                               error=f"did not finish within {timeout_s + extra:.3g} s" + (
                                   f" (its {timeout_s:.3g} s limit, extended while it computed "
                                   "and had received less CPU time than that)" if extra else ""))
        except cpu.OverCpu as exc:
            self._stop()
            return CallOutcome("timeout", seconds=time.perf_counter() - started,
                               stdout=capture.text(), error=str(exc))
        except _WorkerGone:
            return self._crashed(time.perf_counter() - started, capture)
        except _OverMemory as exc:
            self._stop()
            return CallOutcome("memory", seconds=time.perf_counter() - started,
                               stdout=capture.text(), error=str(exc))
        except protocol.ProtocolError as exc:
            self._stop()  # whatever it meant, this worker is not talked to again
            return CallOutcome("protocol", error=f"broke the sandbox protocol: {exc}",
                               stdout=capture.text(), seconds=time.perf_counter() - started)
        seconds = time.perf_counter() - started
        self._drain(capture)
        if self._ooms_seen > ooms_before:  # the kernel killed a process of it (as _settle read)
            self._stop()
            return CallOutcome("memory", seconds=seconds, stdout=capture.text(),
                               error=self._kernel_memory_error())
        outcome = _outcome(header, out_arrays, seconds, capture.text())
        outcome.cpu_s = self._cpu.used() if self._cpu and cpu_limit_s else None
        return outcome

    def _send(self, parts: list, deadline: float, capture: Capture) -> None:
        """Write a message's buffers (``protocol.frames``) without ever blocking: a worker
        that stops reading (or shrinks the pipe) runs into the deadline; one that writes
        before it has read is a violation."""
        for part in parts:
            view = memoryview(part).cast("B")
            while view:
                if not self._wait([self._request_w], deadline, capture):
                    early = _read_some(self._reply_r)
                    if early == b"":
                        raise _WorkerGone
                    if early:
                        raise protocol.ProtocolError("the worker replied before reading its request")
                    continue
                try:
                    view = view[os.write(self._request_w, view):]
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    raise _WorkerGone from None

    def _receive(self, deadline: float, capture: Capture,
                 request_id: str | None = None) -> tuple[dict, list[np.ndarray]]:
        """Read exactly one reply, within the caps; it must answer ``request_id`` and be alone.
        Its arrays are read straight into one buffer and decoded as views of it."""
        prefix = self._read_into(bytearray(protocol.PREFIX_BYTES), deadline, capture)
        head_len, payload_len = protocol.split_prefix(bytes(prefix), self._max_payload)
        body = self._read_into(bytearray(head_len + payload_len), deadline, capture)
        if _read_some(self._reply_r, 1):
            raise protocol.ProtocolError("the worker sent more than one reply")
        header, arrays = protocol.decode(bytes(body[:head_len]), memoryview(body)[head_len:])
        if request_id is not None and header.get("id") != request_id:
            raise protocol.ProtocolError("the worker answered a request it was not sent")
        return header, arrays

    def _read_into(self, buffer: bytearray, deadline: float, capture: Capture) -> bytearray:
        """Fill ``buffer`` from the reply pipe, waiting as :meth:`_wait` does."""
        view, got = memoryview(buffer), 0
        while got < len(buffer):
            self._wait([], deadline, capture)
            try:
                read = os.readv(self._reply_r, [view[got:]])
            except BlockingIOError:
                continue
            if read == 0:
                raise _WorkerGone
            got += read
        return buffer

    def _wait(self, writers: list[int], deadline: float, capture: Capture) -> list[int]:
        """Block until the reply pipe is readable or ``writers`` writable; drain output meanwhile."""
        while True:
            remaining = deadline + (self._cpu.extra_s if self._cpu else 0.0) - time.perf_counter()
            if remaining <= 0:
                if self._cpu is not None and self._cpu.extend(self._timeout_s):
                    continue
                raise _Deadline
            readers = [self._reply_r] + ([self._out_r] if self._out_open else [])
            readable, writable, _ = select.select(readers, writers, [], min(remaining, WATCH_S))
            if self._out_r in readable:
                chunk = _read_some(self._out_r)
                if chunk:
                    capture.write(chunk)
                    continue
                self._out_open = chunk is None
            if self._reply_r in readable or writable:
                return writable
            if self._proc is not None and self._proc.poll() is not None:
                raise _WorkerGone
            self._watch()

    def _watch(self) -> None:
        """The parent's own measurements: memory of the whole tree, the scratch folder's size,
        and the CPU time of a request with a CPU limit."""
        if self._cpu is not None:
            self._cpu.check()
        assert self._proc is not None
        used = tree_memory_mib(self._proc.pid)
        if used > self._limits.memory_mb:
            raise _OverMemory(f"the process tree used {used:.0f} MiB of memory, more than the "
                              f"{self._limits.memory_mb} MiB allowed")
        if self._ooms():
            raise _OverMemory(self._kernel_memory_error())
        if self.isolation != "bubblewrap" and self._workspace is not None:
            size, files = folder_usage(self._workspace.scratch, MAX_SCRATCH_FILES)
            if size > self._limits.scratch_mb << 20 or files >= MAX_SCRATCH_FILES:
                raise _OverMemory(f"wrote more than {self._limits.scratch_mb} MiB or "
                                  f"{MAX_SCRATCH_FILES} files to its scratch folder")

    def _drain(self, capture: Capture) -> None:
        while self._proc is not None and (chunk := _read_some(self._out_r)):
            capture.write(chunk)

    def _crashed(self, seconds: float, capture: Capture) -> CallOutcome:
        self._drain(capture)
        code = self._proc.wait() if self._proc else None
        killed_for_memory = self._ooms() > 0
        self._stop()
        if killed_for_memory:
            return CallOutcome("memory", seconds=seconds, stdout=capture.text(),
                               error=self._kernel_memory_error())
        if code is not None and code > 128:
            code = 128 - code  # the supervisor (and bwrap) exit with 128 + the worker's signal
        text = capture.text()
        if self.isolation == "bubblewrap" and text.startswith("bwrap:"):
            return CallOutcome("crashed", seconds=seconds, stdout=text,
                               error=f"the sandbox could not start ({text.splitlines()[0]})")
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            if -code == signal.SIGXCPU:
                return CallOutcome("timeout", seconds=seconds, stdout=capture.text(),
                                   error="exceeded its CPU-time limit")
            error = f"the worker process was killed by {name}"
        else:
            error = f"the worker process exited with code {code} during the call"
        return CallOutcome("crashed", seconds=seconds, stdout=capture.text(), error=error)


def _widen(pipe: int) -> None:
    """Give a pipe :data:`PIPE_BYTES` of buffer: an image of 6 MB crosses in 1.9 ms instead
    of 7.4 with Linux's default 64 KiB (a wake-up of each side every 64 KiB). Where the
    system allows less (``/proc/sys/fs/pipe-max-size``), the pipe keeps what it has. (An
    ordinary user's pipes share 64 MiB, ``pipe-user-pages-soft``, before new ones get small
    buffers: 32 sandboxes at once; root's are not counted.)"""
    try:
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass


def _read_some(fd: int, most: int = 1 << 20) -> bytes | None:
    """Up to ``most`` bytes (1 MiB at most) from a non-blocking pipe: bytes, ``b""`` at end of
    stream, ``None`` if nothing is there yet."""
    try:
        return os.read(fd, min(most, 1 << 20))
    except BlockingIOError:
        return None


def _outcome(header: dict, arrays: list[np.ndarray], seconds: float, stdout: str) -> CallOutcome:
    if not header.get("ok"):
        category = header.get("category", "raised")
        status = {"exception": "raised", "import": "raised"}.get(category, category)
        step = header.get("step")
        return CallOutcome(status, error=str(header.get("error", ""))[:2000],
                           traceback=str(header.get("traceback", ""))[-8000:],
                           seconds=seconds, stdout=stdout,
                           step=step if isinstance(step, int) else None)
    outputs = [_output(item, arrays) for item in header.get("outputs", [])]
    return CallOutcome("returned", outputs, bool(header.get("tuple")), seconds=seconds, stdout=stdout)


def _output(item: Any, arrays: list[np.ndarray]) -> Any:
    if not isinstance(item, dict):
        return {"unsupported": "malformed"}
    kind = item.get("kind")
    if kind == "array" and isinstance(item.get("array"), int) and 0 <= item["array"] < len(arrays):
        return arrays[item["array"]]
    if kind == "none":
        return None
    if kind in ("scalar", "text"):
        return item.get("value")
    return {"unsupported": str(item.get("type", "unknown"))[:200]}
