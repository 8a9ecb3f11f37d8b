"""The isolation layers a worker applies to itself before it imports any student code.

Each layer is independent and needs no namespace, so the promises of the sandbox hold in
containers and on CI runners where bubblewrap cannot run (and add depth where it can):

- ``identity``: a dedicated unprivileged uid/gid (when the grader is root), else a root
  worker without capabilities;
- ``landlock``: only the system and the Python installation (carved around the answer key
  and the harness, on resolved paths: :mod:`.carve`), the worker code and the submission
  readable; only scratch writable; no TCP; signals and abstract Unix sockets scoped to the
  worker (:mod:`.landlock`);
- ``seccomp``: only the system calls computation needs (an allowlist, :mod:`.seccomp`).

Then the worker proves its file rules (:mod:`.selftest`): it tries to read what must stay
hidden and to write where it must not, and is marked ``files-verified`` only when every
attempt failed. The parent asks for layers in the launch spec; :func:`apply` applies them
in that order and returns what it enforced, so that the parent records, and can refuse,
what really protects the run. Standard library only: this runs before numpy is imported.
"""

from __future__ import annotations

import os

from . import identity, landlock, seccomp, selftest
from .carve import grants, listable, stamp

__all__ = ["apply", "forget", "grants", "held", "prepare", "prepared_part"]


def apply(spec: dict) -> tuple[list[str], list[str]]:
    """Apply the layers ``spec`` asks for; return (layers enforced, problems)."""
    enforced: list[str] = []
    problems: list[str] = []

    def attempt(name: str, action) -> None:
        try:
            enforced.extend(action() or [name])
        except (OSError, ValueError) as exc:
            problems.append(f"{name}: {exc}")

    who = spec.get("identity")
    if who:
        attempt("uid", lambda: identity.become(who["uid"], who["gid"]))
    if spec.get("drop_capabilities") and identity.holds_capabilities():
        attempt("no-capabilities", identity.drop_capabilities)
    attempt("no-new-privileges", identity.no_new_privileges)
    rules = spec.get("landlock")
    if rules:
        def restrict() -> list[str]:
            shared, narrowed = _layers(rules)
            scopes = landlock.restrict(**shared)
            landlock.narrow(**narrowed)
            return [f"landlock-{scope}" for scope, on in scopes.items() if on]
        attempt("landlock", restrict)
    forget()  # a prepared ruleset not enforced here must not reach student code
    filters = spec.get("seccomp")
    if filters is not None:
        protect = [*filters.get("protect_pids", []), os.getppid()]  # the grader, the supervisor
        attempt("seccomp", lambda: seccomp.install(filters["rules"], protect))
    verify = spec.get("verify")
    if verify is not None:
        found = selftest.leaks(verify["unreadable"], verify["unwritable"])
        if found:
            problems.append(f"files: the self-test could {'; '.join(found[:5])}")
        else:
            enforced.append(selftest.MARK)
    identity.die_with_parent()
    return enforced, problems


def prepare(spec: dict) -> None:
    """What :func:`apply` would compute for ``spec``, done once in a warm worker's zygote
    before it forks: the carved grants, the Landlock ruleset and the compiled allowlist are
    then inherited, and a sandbox only enforces them (a failure here is left for
    :func:`apply` to meet and report)."""
    try:
        if spec.get("landlock"):
            landlock.prebuild(**_layers(spec["landlock"])[0])
        if spec.get("seccomp") is not None:
            seccomp.compile_allowlist(spec["seccomp"]["rules"])
    except (OSError, ValueError):
        forget()


def prepared_part(spec: dict) -> dict:
    """What :func:`prepare` uses of ``spec``: the part that is the same for every sandbox of
    a slot (a spec also names the sandbox's uid, folders and witnesses)."""
    rules = spec.get("landlock") or {}
    return {"landlock": {key: rules.get(key) for key in ("read", "read_trees", "hidden", "write",
                                                          "devices")},
            "seccomp": (spec.get("seccomp") or {}).get("rules")}


def held() -> list[int]:
    """Descriptors :func:`prepare` keeps open for the processes this one forks."""
    return landlock.held()


def forget() -> None:
    """Close what :func:`prepare` keeps: in a process that will not :func:`apply` it."""
    landlock.forget()


def _layers(rules: dict) -> tuple[dict, dict]:
    """Landlock's two layers for the ``landlock`` part of a spec (:func:`landlock.restrict`'s
    and :func:`landlock.narrow`'s arguments), which together allow exactly what it asks.

    The first carves the trees and holds every path that is the same for each sandbox of a
    warm worker's slot, so that its zygote builds it once (:func:`prepare`): it reads all of
    ``/proc`` and writes wherever the slot's sandboxes may (``write``). The second is each
    sandbox's own: everything outside ``/proc``, its own processes' entries there
    (``/proc/self`` names a different folder in each process) and its own folders to write
    (``narrow_write``). With the first comes the inodes of its named paths and of its
    carved folders, with the time their entries last changed: a ruleset prepared before any
    of them changed is not used.
    """
    trees, hidden = rules["read_trees"], rules["hidden"]
    own = [path for path in rules["read"] if _in_proc(path)]
    read = [path for path in rules["read"] if not _in_proc(path)] + (["/proc"] if own else [])
    devices, carved = list(rules.get("devices", [])), listable(trees, hidden)
    shared = {"read": [*read, *grants(trees, hidden)], "write": list(rules["write"]),
              "devices": devices, "listable": carved,
              "stamp": stamp([*read, *rules["write"], *devices]) + stamp(carved, entries=True)}
    narrowed = {"read": [*grants(["/"], ["/proc"]), *own], "devices": devices,
                "write": list(rules.get("narrow_write", rules["write"]))}
    return shared, narrowed


def _in_proc(path: str) -> bool:
    return path == "/proc" or path.startswith("/proc/")
