"""The generator registry: ``@generator("name")`` makes a function a rubric argument generator.

A new family of generators is a new module of :mod:`grader.inputs` (:mod:`grader.plugins`).

A rubric case names each argument as ``{name: params}``. The registered :class:`Generator`
owns everything the harness asks about such a spec: whether its parameters are valid (at
rubric load time), the value it makes, the few words :func:`grader.inputs.describe` shows
for it, and whether that value derives from the course's own data.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from grader.plugins import Registry

Value = np.ndarray | float | int | bool | str | None
Maker = TypeVar("Maker", bound=Callable[..., Any])


@dataclass(frozen=True)
class Generator:
    """One named generator of argument values.

    ``make(**params)`` makes the value, or ``make(params)`` when ``literal`` (the spec's
    parameters are the value itself, e.g. ``{value: 16}``). ``label(params)`` is what a
    case description says after the argument name (default: the ``shape`` as ``20×30``,
    else the generator's name). ``course_data`` is a bool, or a function of the
    parameters when only some read the course data.
    """

    name: str
    make: Callable[..., Value]
    literal: bool = False
    label: Callable[[Any], str] | None = None
    course_data: bool | Callable[[Any], bool] = False

    def problem(self, params: Any) -> str | None:
        """Why ``params`` cannot be given to this generator, or ``None`` when they can."""
        if self.literal:
            return None
        if not isinstance(params, dict):
            return f"the parameters of {self.name!r} must be a mapping"
        try:
            inspect.signature(self.make).bind(**params)
        except TypeError as exc:
            return f"bad parameters for {self.name!r}: {exc}"
        return None

    def generate(self, params: Any) -> Value:
        """The value of the spec ``{name: params}`` (already checked by :meth:`problem`)."""
        return self.make(params) if self.literal else self.make(**params)

    def describe(self, params: Any) -> str:
        """A few words for a case description, e.g. ``20×30×3`` or ``gaussian 5×5``."""
        if self.label is not None:
            return self.label(params)
        if isinstance(params, dict) and "shape" in params:
            return dimensions(params["shape"])
        return self.name

    def reads_course_data(self, params: Any) -> bool:
        """Whether the value derives from the course data (unclear rights: never in a kit)."""
        return self.course_data(params) if callable(self.course_data) else self.course_data


GENERATORS: Registry[Generator] = Registry("input generator", "grader.inputs")


def generator(name: str, *, literal: bool = False, label: Callable[[Any], str] | None = None,
              course_data: bool | Callable[[Any], bool] = False) -> Callable[[Maker], Maker]:
    """Register the decorated function as the generator ``name`` (see :class:`Generator`)."""

    def register(make: Maker) -> Maker:
        GENERATORS.register(Generator(name, make, literal, label, course_data), name=name)
        return make

    return register


def dimensions(shape: Any) -> str:
    """``[20, 30, 3]`` as ``20×30×3``."""
    return "×".join(map(str, shape))
