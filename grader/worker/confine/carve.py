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

import os


def grants(trees: list[str], hidden: list[str]) -> list[str]:
    """Real paths that cover every file under ``trees`` except those under ``hidden``."""
    return list(_carve(tuple(trees), tuple(hidden))[0])


def listable(trees: list[str], hidden: list[str]) -> list[str]:
    """The folders :func:`grants` carved (those above a hidden place): listed, not read."""
    return list(_carve(tuple(trees), tuple(hidden))[1])


def stamp(paths: list[str], entries: bool = False) -> tuple:
    """Each path's (device, inode), ``None`` where it is missing: what a Landlock rule on the
    path lands on; with ``entries``, also its modification time, which changes when a
    folder's entries are added, removed or replaced (about 40 paths, 50 µs)."""
    stamps: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            info = os.stat(path)
            stamps.append((info.st_dev, info.st_ino, info.st_mtime_ns if entries else 0))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


_carved: dict[tuple, tuple[tuple, tuple[str, ...], tuple[str, ...]]] = {}


def _carve(trees: tuple[str, ...], hidden: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(:func:`grants`, :func:`listable`), walked again only when a carved folder changed: a
    warm worker's zygote computes them before it forks, so that its sandboxes skip the walk
    (about 1 700 entries, 20 ms, for a full site-packages)."""
    known = _carved.get((trees, hidden))
    if known is not None and stamp(list(known[2]), entries=True) == known[0]:
        return known[1], known[2]
    hidden_paths = {os.path.realpath(h) for h in hidden}
    covered: list[str] = []
    carved: list[str] = []
    for tree in dict.fromkeys(os.path.realpath(t) for t in trees):
        covered += _cover(tree, hidden_paths, carved)
    found = tuple(dict.fromkeys(covered)), tuple(dict.fromkeys(carved))
    _carved[(trees, hidden)] = (stamp(list(found[1]), entries=True), *found)
    return found


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
