"""The isolation layers, one module each: what a layer stops, what it needs, how it is probed.

A layer is a plugin (:mod:`grader.plugins`): a public module of this package that registers a
:class:`Layer` with :data:`LAYERS`. :mod:`grader.sandbox.isolation` probes every registered
layer once per process, ``grader doctor`` lists them, and the guarantees a run has
(:func:`grader.sandbox.isolation.guarantees`) are the union of what each layer ensures.

Two sorts of layer:

- **trusted side** (``probe``): the grader tests the machine, and the layer acts from outside
  the sandbox — a namespace, a cgroup, or a ``wrap`` command put in front of every worker start
  (cold workers and zygotes; a warm worker is forked from a zygote and inherits it). A new one
  of these is one new module here.
- **in the worker** (``in_worker=True``): the sandbox applies it to itself before any student
  code, from the launch spec, with :mod:`grader/worker/confine <grader.worker>` (the student
  side imports nothing of the grader), and all of them are probed together in one confined
  interpreter that then imports numpy, as a worker would. A new one of these is a module here
  and one in ``grader/worker/confine/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from grader.plugins import Registry
from grader.sandbox.mounts import Limits

Ways = tuple[frozenset[str], ...]  # alternative sets of fine layers, any one of which suffices


@dataclass(frozen=True)
class Available:
    """The layers this machine offers this process, and why the others are missing."""

    layers: tuple[str, ...]
    missing: dict[str, str] = field(default_factory=dict)
    landlock_abi: int = 0
    # layers whose probe itself failed (killed, timed out, no report): not a property of the
    # machine, so a strict rubric refuses until ``grader doctor`` probes them cleanly
    failed: dict[str, str] = field(default_factory=dict)

    def has(self, layer: str) -> bool:
        return layer in self.layers


@dataclass(frozen=True)
class Probing:
    """What a trusted-side probe may build on: the layers found before it (in ``order``) and
    those the confined interpreter's probe reported (``confined``: names, and ``ipc`` when it
    could unshare an IPC namespace)."""

    layers: tuple[str, ...]
    confined: frozenset[str]


def _just_the_name(layer: Layer, found: Available) -> tuple[str, ...]:
    return (layer.name,)


def _no_detail(found: Available) -> str:
    return ""


def _always_possible() -> str | None:
    return None


@dataclass(frozen=True)
class Layer:
    """One isolation layer.

    ``ensures`` maps a guarantee (a key of :data:`grader.sandbox.isolation.EXPLAINED`) to the
    ways this layer, alone or with others, ensures it: each way a set of *fine* layer names
    (``scopes``: ``landlock`` is ``landlock-filesystem``, ``landlock-signals``, ...; a layer
    whose file rules a worker proved adds ``files-verified``).
    """

    name: str
    order: int  # where it is probed and listed (smaller first)
    stops: str  # what it stops, for ``grader doctor``
    needs: str  # what the machine needs for it
    ensures: Mapping[str, Ways] = field(default_factory=dict)
    in_worker: bool = False  # applied by the worker to itself; probed in a confined interpreter
    # a trusted-side probe: why the layer does not work here, or None when it does
    probe: Callable[[Probing], str | None] | None = None
    # why the layer cannot exist for this process at all (before any probe), or None
    impossible: Callable[[], str | None] = _always_possible
    scopes: Callable[[Layer, Available], tuple[str, ...]] = _just_the_name
    detail: Callable[[Available], str] = _no_detail  # more for ``grader doctor``, when present
    # a command put in front of every worker start (trusted side, a program that execs the
    # rest of its arguments), given the sandbox's limits
    wrap: Callable[[Limits], list[str]] | None = None


LAYERS: Registry[Layer] = Registry("isolation layer", __name__, name_of=lambda layer: layer.name)


def ordered() -> list[Layer]:
    """Every registered layer, in ``order``."""
    return sorted(LAYERS.values(), key=lambda layer: (layer.order, layer.name))


def ways(*sets: set[str]) -> Ways:
    """The alternatives of :attr:`Layer.ensures`, written as plain sets."""
    return tuple(frozenset(names) for names in sets)
