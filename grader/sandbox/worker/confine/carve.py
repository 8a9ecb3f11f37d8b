"""What Landlock grants for a tree that holds folders the sandbox must not read.

Landlock grants whole hierarchies, and a rule lands on the inode its path resolves to. So
a tree that holds a hidden folder (a Python installation holds ``site-packages/reference``,
``/usr`` holds a Debian-installed harness) is granted entry by entry along the path down
to it, leaving out only the hidden entries themselves; and every path is resolved first:

- a tree or a hidden path given through a link (``/lib -> usr/lib`` on a merged-``/usr``
  system) is carved at its real place, where the kernel will look;
- a link met inside a carved folder is never granted: opening it would grant its target
  whole (a venv's ``lib64 -> lib`` is the whole of ``lib``, answer key included). Access
  through it still works wherever its target is granted on its own.

The carved folders themselves may be listed (:func:`listable`): a fresh interpreter lists
``lib/python3.X`` to import ``encodings`` (``subprocess.run([sys.executable, ...])``,
multiprocessing's spawn). A listing right in Landlock reaches the folders below too, so the
*names* in a hidden folder can be listed; no file in it can be read.

Standard library only: this runs in the worker before numpy is imported.
"""

from __future__ import annotations

import functools
import os


def grants(trees: list[str], hidden: list[str]) -> list[str]:
    """Real paths that cover every file under ``trees`` except those under ``hidden``."""
    return list(_carve(tuple(trees), tuple(hidden))[0])


def listable(trees: list[str], hidden: list[str]) -> list[str]:
    """The folders :func:`grants` carved (those above a hidden place): listed, not read."""
    return list(_carve(tuple(trees), tuple(hidden))[1])


@functools.lru_cache(maxsize=8)
def _carve(trees: tuple[str, ...], hidden: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(:func:`grants`, :func:`listable`), once per process: a warm worker's zygote computes
    them before it forks, so that its sandboxes skip the walk (about 1 700 entries, 20 ms, for
    a full site-packages)."""
    hidden_paths = {os.path.realpath(h) for h in hidden}
    covered: list[str] = []
    carved: list[str] = []
    for tree in dict.fromkeys(os.path.realpath(t) for t in trees):
        covered += _cover(tree, hidden_paths, carved)
    return tuple(dict.fromkeys(covered)), tuple(dict.fromkeys(carved))


def _cover(tree: str, hidden: set[str], carved: list[str]) -> list[str]:
    if tree in hidden or any(tree.startswith(h.rstrip("/") + "/") for h in hidden):
        return []
    if not any(h.startswith(tree.rstrip("/") + "/") for h in hidden):
        return [tree]
    try:
        entries = sorted(os.scandir(tree), key=lambda entry: entry.name)
    except OSError:
        return []
    carved.append(tree)
    return [path for entry in entries if not entry.is_symlink()
            for path in _cover(entry.path, hidden, carved)]
