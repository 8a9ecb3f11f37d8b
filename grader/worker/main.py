"""The sandbox's first process: supervise, confine, then serve the student's calls.

Started by :mod:`grader.sandbox.launcher` as ``python -I main.py SPEC`` (``SPEC`` is JSON:
the file descriptors, the submission's module folder, rlimits, and the isolation layers
to apply). The process starts as the :mod:`supervisor` of the sandbox and forks the
worker, which applies the layers (:mod:`confine`) and its rlimits, says which layers it
enforced in a first ``ready`` message, and only then imports numpy and, on request, the
student's modules. Standard output and error are the parent's capture pipe; requests and
replies travel on two dedicated file descriptors. The worker only *reports* what the
student's code returned or raised; the parent decides every score.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import confine  # noqa: E402 - standard library only: applied before numpy is imported
import supervisor  # noqa: E402


def main(argv: list[str]) -> int:
    if argv[1] == "--probe":
        return probe(json.loads(argv[2]))
    return sandbox(json.loads(argv[1]))


def sandbox(spec: dict) -> int:
    """Be the sandbox's supervisor: fork the worker, which confines itself and serves; return
    the worker's status. A cold start runs this from :func:`main`, a warm one in a child of
    :mod:`zygote`."""
    fds = spec["fds"]
    layers, problems = _supervisor_layers(spec)
    who = spec["confine"].get("identity")
    for path in spec.get("chown", []) if who else []:
        os.chown(path, who["uid"], who["gid"])  # bubblewrap's tmpfs folders, made for root
    worker = os.fork()
    if worker == 0:
        os.close(fds["control"])
        os.setpgid(0, 0)  # kill(0) from student code reaches its own processes only
        enforced, failed = confine.apply(spec["confine"])
        _apply_limits(spec["limits"])
        import server  # numpy and the request loop, only once confined

        return server.serve(spec, layers + enforced, problems + failed)
    confine.forget()  # a zygote's prepared ruleset: the worker's to enforce, not ours
    os.close(fds["request"])
    os.close(fds["reply"])
    return supervisor.supervise(worker, fds["control"])


def probe(confinement: dict) -> int:
    """Apply ``confinement`` here, import numpy as a worker would, print what held as JSON."""
    import sysconfig

    packages = sysconfig.get_path("purelib")
    abi = confine.landlock.abi()  # before the allowlist refuses the call that asks
    ipc = supervisor.own_ipc_namespace()  # as a supervisor without namespaces would
    enforced, problems = confine.apply(confinement)
    try:
        import numpy  # noqa: F401 - can this uid, under these rules, still read Python?
    except (ImportError, OSError) as exc:
        layer = "uid" if "uid" in enforced else "landlock"
        problems.append(f"{layer}: {_unreachable(packages, exc)}")
        enforced = [name for name in enforced if not name.startswith(layer)]
    print(json.dumps({"enforced": enforced, "problems": problems, "abi": abi, "ipc": ipc}))
    return 0


def _unreachable(target: str, exc: BaseException) -> str:
    """Why this process cannot import numpy: the first folder on the way it may not enter."""
    parts = target.split(os.sep)
    for depth in range(2, len(parts) + 1):
        folder = os.sep.join(parts[:depth])
        if not os.access(folder, os.X_OK):
            return (f"uid {os.getuid()} cannot enter {folder}, on the way to the Python "
                    f"installation {target} (make it searchable: chmod o+x {folder}; or "
                    "install Python outside it)")
    return f"the sandbox cannot import numpy ({exc})"


def _supervisor_layers(spec: dict) -> tuple[list[str], list[str]]:
    layers, problems = [], []
    if spec.get("ipc") == "bubblewrap":  # a cold start's: bubblewrap made it
        layers.append("ipc")
    elif spec.get("ipc") == "unshare":
        if supervisor.own_ipc_namespace():
            layers.append("ipc")
        else:
            problems.append("ipc: unshare(CLONE_NEWIPC) was refused")
    if spec.get("subreaper"):
        if supervisor.become_subreaper():
            layers.append("subreaper")
        else:
            problems.append("subreaper: prctl(PR_SET_CHILD_SUBREAPER) failed")
    if spec.get("cgroup"):  # the grader checks that it did, and records the layer
        try:
            supervisor.join_cgroup(spec["cgroup"])
        except OSError as exc:
            problems.append(f"cgroup: {exc}")
    return layers, problems


def _apply_limits(limits: dict[str, int]) -> None:
    """Lower hard and soft rlimits (``{"AS": bytes, "CPU": seconds, ...}``) before any student code."""
    import resource

    for name, value in limits.items():
        soft = int(value)
        hard = soft + 5 if name == "CPU" else soft  # SIGXCPU at soft, SIGKILL at hard
        resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (soft, hard))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
