"""The isolation layers a worker applies to itself before it imports any student code.

Each layer is independent and needs no namespace, so the promises of the sandbox hold in
containers and on CI runners where bubblewrap cannot run (and add depth where it can):

- ``identity``: a dedicated unprivileged uid/gid (when the grader is root), else a root
  worker without capabilities;
- ``landlock``: only the system, the Python installation (without the answer key and the
  harness), the worker code and the submission readable; only scratch writable; no TCP;
  signals and abstract Unix sockets scoped to the worker (:mod:`.landlock`);
- ``seccomp``: no sockets, tracing, mounts, namespaces, kernel interfaces (:mod:`.seccomp`).

The parent asks for layers in the launch spec; :func:`apply` applies them in that order
and returns what it enforced, so that the parent records, and can refuse, what really
protects the run. Standard library only: this runs before numpy is imported.
"""

from __future__ import annotations

import functools
import os

from . import identity, landlock, seccomp


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
    if os.geteuid() == 0 and spec.get("drop_capabilities"):
        attempt("no-capabilities", identity.drop_capabilities)
    attempt("no-new-privileges", identity.no_new_privileges)
    rules = spec.get("landlock")
    if rules:
        def restrict() -> list[str]:
            read = list(rules["read"]) + grants(rules["read_trees"], rules["hidden"])
            scopes = landlock.restrict(read, rules["write"], rules.get("devices", []))
            return [f"landlock-{scope}" for scope, on in scopes.items() if on]
        attempt("landlock", restrict)
    filters = spec.get("seccomp")
    if filters is not None:
        protect = [*filters.get("protect_pids", []), os.getppid()]  # the grader, the supervisor
        attempt("seccomp", lambda: seccomp.install(protect))
    identity.die_with_parent()
    return enforced, problems


def grants(trees: list[str], hidden: list[str]) -> list[str]:
    """Paths that cover every file under ``trees`` except those under ``hidden``.

    Landlock grants whole hierarchies, so a tree that holds a hidden folder (the Python
    installation holds ``site-packages/reference``) is granted entry by entry along the
    path down to it, leaving out only the hidden entries themselves.
    """
    return list(_grants(tuple(trees), tuple(hidden)))


@functools.lru_cache(maxsize=8)
def _grants(trees: tuple[str, ...], hidden: tuple[str, ...]) -> tuple[str, ...]:
    """:func:`grants`, once per process: a warm worker's zygote computes it before it forks,
    so that its sandboxes skip the walk (about 1 700 entries, 20 ms, for a full site-packages)."""
    hidden_paths = {os.path.normpath(h) for h in hidden}
    covered: list[str] = []
    for tree in dict.fromkeys(os.path.normpath(t) for t in trees):
        covered += _cover(tree, hidden_paths)
    return tuple(covered)


def _cover(tree: str, hidden: set[str]) -> list[str]:
    if tree in hidden:
        return []
    if not any(h.startswith(tree.rstrip("/") + "/") for h in hidden):
        return [tree]
    try:
        entries = sorted(entry.path for entry in os.scandir(tree))
    except OSError:
        return []
    return [path for entry in entries for path in _cover(entry, hidden)]
