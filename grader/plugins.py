"""The one way to extend the grader: a module is a plugin.

Check kinds (:mod:`grader.checks`), export formats (:mod:`grader.export`), input generators
(:mod:`grader.inputs`) and command-line commands (:mod:`grader.cli`) each live in a package
that owns a :class:`Registry`. A new one is a new module in that package that registers what
it defines with the registry's decorator — nothing else is edited: the first lookup imports
every public module of the package (names without a leading ``_``), as pytest loads its
plugins, and the command line's choices are the registry's names.

A registry is a read-only mapping, name → what was registered; an unknown name is a
:class:`~grader.errors.GraderError` that lists the known ones.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from grader.errors import GraderError

T = TypeVar("T")


class UnknownName(GraderError, KeyError):
    """A name no plugin registered (a :class:`KeyError` too, so ``registry.get`` works)."""

    __str__ = Exception.__str__


class Registry(Mapping[str, T], Generic[T]):
    """Plugins of one kind (``what``, e.g. ``"export format"``), found in ``package``.

    ``name_of`` gives the name of a registered object when :meth:`register` is used without
    one (a check kind's ``name`` attribute, say).
    """

    def __init__(self, what: str, package: str,
                 name_of: Callable[[T], str] | None = None) -> None:
        self.what = what
        self.package = package
        self._name_of = name_of
        self._entries: dict[str, T] = {}
        self._loaded = False
        self._loading = threading.RLock()  # two threads' first lookups: one imports, one waits
        self._importing = False  # this thread is importing the plugins (one asked meanwhile)

    def register(self, item: T | None = None, *, name: str | None = None) -> Any:
        """Register ``item`` under ``name`` (default: ``name_of(item)``); usable as a decorator,
        bare (``@KINDS.register``) or with a name (``@FORMATS.register(name="csv")``)."""
        if item is None:
            return lambda later: self._add(later, name)
        return self._add(item, name)

    def _add(self, item: T, name: str | None) -> T:
        key = name or (self._name_of(item) if self._name_of else None)
        if not key:
            raise ValueError(f"a {self.what} needs a name")
        if key in self._entries and self._entries[key] is not item:
            raise ValueError(f"{self.what} {key!r} is registered twice")
        self._entries[key] = item
        return item

    def load(self) -> None:
        """Import every public module of the package once, so each registers its plugins.

        Safe from several threads (the course server's graders): a thread that asks while
        another imports waits for every plugin, never reads a half-filled registry. A plugin
        that looks the registry up while it is imported sees what is registered so far."""
        if self._loaded:
            return
        with self._loading:
            if self._loaded or self._importing:
                return
            self._importing = True
            try:
                package = importlib.import_module(self.package)
                for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
                    if not module.name.startswith("_"):
                        importlib.import_module(f"{self.package}.{module.name}")
                self._loaded = True
            finally:
                self._importing = False

    def names(self) -> list[str]:
        """The registered names, sorted."""
        self.load()
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        self.load()
        if name not in self._entries:
            raise UnknownName(f"unknown {self.what} {name!r}; known: {', '.join(self.names())}")
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self.load()
        return len(self._entries)
