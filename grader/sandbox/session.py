"""One sandboxed worker per submission: start, call, time out, kill, restart.

The parent (trusted) side of the boundary. It starts the worker (:mod:`launcher`, warm from
a :mod:`zygote` where it can), sends the inputs of one call over its pipes (:mod:`channel`),
waits for the reply under a wall-clock deadline while it measures the sandbox's processes
(:mod:`tree`), and turns whatever happened into a :class:`~grader.sandbox.calls.CallOutcome`.
It never decides a score: that is the checks' job.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from grader.errors import GraderError
from grader.sandbox import (cgroup, cpu, installation, isolation, launcher, mounts, uids,
                            workspace, zygote)
from grader.sandbox.calls import CallOutcome, Each, Ref, Step, encode_arg, outcome_of
from grader.sandbox.capture import Capture
from grader.sandbox.channel import Channel, Deadline, Waiting, WorkerGone
from grader.sandbox.processes import kill_tree
from grader.sandbox.tree import OverMemory, SandboxTree, kernel_memory_mb, leaf_holds_all
from grader.worker import protocol


class SandboxError(GraderError):
    """The sandbox itself could not run here: a failure of the harness, not of the student."""


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
        self._tree: SandboxTree | None = None  # the running worker's processes, measured
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
                    "args": [encode_arg(a, arrays) for a in step.args]} for step in steps]
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

    def _cgroup_entries(self) -> tuple[str, ...]:
        return tuple(self._cgroup.entry_files()) if self._cgroup is not None else ()

    def _borrow_zygote(self) -> zygote.Zygote | None:
        if zygote.shadows(self._submission / self._module_dir, self._preload):
            return None
        return zygote.borrow(zygote.Key(self._interpreter, self._preload, self._limits.scratch_mb,
                                        self._limits.tmp_mb, self._lease is not None,
                                        isolation.available().layers, self._limits.gpu))

    def _start(self, deadline: float, capture: Capture) -> float:
        """Start a worker and read its ``ready``; return the deadline the request keeps (a
        fresh one after a warm fork that failed: the grader's failure costs the student
        nothing)."""
        space = self._ensure_workspace()
        self._marker = secrets.token_hex(8)
        self._cgroup = cgroup.create(kernel_memory_mb(self._limits), launcher.tasks_allowed()) \
            if isolation.available().has("cgroup") else None
        plan, deadline = self._launch(space, deadline)
        assert self._proc is not None
        self._tree = SandboxTree(self._proc.pid, self._cgroup, self._limits,
                                 space.scratch if self.isolation != "bubblewrap" else None)
        self._channel.open()
        self._imported = set()
        header, _ = self._channel.receive(deadline, capture, self._waiting(), self._max_payload)
        if not header.get("ready"):
            raise protocol.ProtocolError("the worker's first message was not 'ready'")
        if header.get("unreachable"):
            self._stop()
            raise SandboxError(f"the sandbox cannot reach its workspace "
                               f"({', '.join(map(str, header['unreachable']))}): a folder above "
                               "it is closed to the sandbox's uid; set TMPDIR to a folder under "
                               "/tmp")
        self._confirm_layers(plan, header)
        self._tree.ready(self.layers)
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
        pipes = Channel()
        try:
            plan = start(pipes.worker_ends)
        except BaseException:
            pipes.close_all()
            raise
        finally:
            pipes.release_worker_ends()
        self._channel = pipes
        return plan

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
            self._channel.hang_up()  # the supervisor kills its tree and exits
            self._end_processes(self._proc)
            self._channel.close()
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
        if leaf_holds_all(self.layers) and self._cgroup is not None and self._cgroup.remove():
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
            assert self._proc is not None and self._tree is not None
            tree = self._tree
            tree.check_leftovers()
            ooms_before = tree.ooms_seen  # as check_leftovers just found it
            self._cpu = tree.cpu_meter(timeout_s, cpu_limit_s)
            request_id = secrets.token_hex(8)  # unguessable: no answer before the question
            self._channel.send(protocol.frames({**request, "id": request_id}, arrays), deadline,
                               capture, self._waiting())
            header, out_arrays = self._channel.receive(deadline, capture, self._waiting(),
                                                       self._max_payload, request_id)
            tree.settle(started + cpu.CpuMeter.WALL_CAP * timeout_s, self._cpu)
        except Deadline:
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
        except WorkerGone:
            return self._crashed(time.perf_counter() - started, capture)
        except OverMemory as exc:
            self._stop()
            return CallOutcome("memory", seconds=time.perf_counter() - started,
                               stdout=capture.text(), error=str(exc))
        except protocol.ProtocolError as exc:
            self._stop()  # whatever it meant, this worker is not talked to again
            return CallOutcome("protocol", error=f"broke the sandbox protocol: {exc}",
                               stdout=capture.text(), seconds=time.perf_counter() - started)
        seconds = time.perf_counter() - started
        self._channel.drain(capture)
        if tree.ooms_seen > ooms_before:  # the kernel killed a process of it (as settle read)
            self._stop()
            return CallOutcome("memory", seconds=seconds, stdout=capture.text(),
                               error=tree.memory_error())
        outcome = outcome_of(header, out_arrays, seconds, capture.text())
        outcome.cpu_s = self._cpu.used() if self._cpu and cpu_limit_s else None
        return outcome

    def _waiting(self) -> Waiting:
        """How the request in flight waits: its deadline extended by the CPU meter (a machine
        that gave it less than its CPU time), and the sandbox measured between two looks."""
        return Waiting(lambda: self._cpu.extra_s if self._cpu else 0.0,
                       lambda: self._cpu is not None and self._cpu.extend(self._timeout_s),
                       self._meanwhile)

    def _meanwhile(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise WorkerGone
        if self._tree is not None:
            self._tree.measure(self._cpu)

    def _crashed(self, seconds: float, capture: Capture) -> CallOutcome:
        if self._proc is not None:
            self._channel.drain(capture)
        code = self._proc.wait() if self._proc else None
        tree = self._tree
        killed_for_memory = tree is not None and tree.ooms() > 0
        self._stop()
        if killed_for_memory and tree is not None:
            return CallOutcome("memory", seconds=seconds, stdout=capture.text(),
                               error=tree.memory_error())
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


