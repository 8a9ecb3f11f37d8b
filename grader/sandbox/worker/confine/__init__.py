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
from .carve import grants, listable

__all__ = ["apply", "grants"]


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
            trees, hidden = rules["read_trees"], rules["hidden"]
            read = list(rules["read"]) + grants(trees, hidden)
            scopes = landlock.restrict(read, rules["write"], rules.get("devices", []),
                                       listable(trees, hidden))
            return [f"landlock-{scope}" for scope, on in scopes.items() if on]
        attempt("landlock", restrict)
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
