"""seccomp: the worker's system calls are an allowlist (``grader/sandbox/syscalls.yaml``,
:mod:`grader.sandbox.syscall_policy`); applied by ``grader/worker/confine/seccomp.py``."""

from __future__ import annotations

from grader.sandbox.layers import LAYERS, Layer, ways

LAYERS.register(Layer(
    name="seccomp", order=30, in_worker=True,
    stops="every system call its allowlist does not name (sockets, ptrace, mounts, "
          "namespaces, bpf, io_uring, System V IPC, memfd_create, ...)",
    needs="libseccomp",
    # with Landlock's file rules, no write reaches the grader's memory or files either
    ensures={"network": ways({"seccomp"}), "grader": ways({"seccomp", "landlock-filesystem"})}))
