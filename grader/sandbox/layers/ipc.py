"""ipc: an IPC namespace per sandbox (System V objects, POSIX message queues): bubblewrap's, or
one the supervisor unshares (probed by the confined interpreter)."""

from __future__ import annotations

from grader.sandbox.layers import LAYERS, Layer, Probing


def _problem(probing: Probing) -> str | None:
    if "ipc" in probing.confined or "bubblewrap" in probing.layers:
        return None
    return ("this process may not unshare an IPC namespace (root without CAP_SYS_ADMIN, or an "
            "ordinary user) and bubblewrap is off: the syscall allowlist refuses System V IPC "
            "and message queues instead")


LAYERS.register(Layer(
    name="ipc", order=70, probe=_problem,
    stops="an IPC namespace per sandbox: no System V object or message queue is shared",
    needs="bubblewrap, or unshare (probed)"))
