"""Seeded input generators named by rubrics (trusted side).

A rubric case names each argument as ``{generator: {params}}``, e.g.
``image: {random: {shape: [20, 30, 3], seed: 1}}``. The generator turns that
into an array or a scalar; the same spec always gives the same bytes.

Each family of generators is one module that registers its functions with
``@generator("name")`` (:mod:`grader.inputs.registry`): :mod:`~grader.inputs.arrays`
(random, normal, integers, ramp, value), :mod:`~grader.inputs.kernels`,
:mod:`~grader.inputs.images` (photographs), :mod:`~grader.inputs.pairs` (feature-matching
pairs), :mod:`~grader.inputs.patterns` (corner test images),
:mod:`~grader.inputs.descriptors` and :mod:`~grader.inputs.datasets` (labelled image sets).
A new generator is a decorated function in one of them, validated at rubric load time by
its signature; the functions below only look the name up.
"""

from __future__ import annotations

from typing import Any

from grader.inputs.registry import GENERATORS, Generator, Value, generator
from grader.inputs.arrays import integers, normal, ramp, random, value
from grader.inputs.datasets import glyphs, scenes
from grader.inputs.descriptors import planted_descriptors, ranked_descriptors
from grader.inputs.images import image
from grader.inputs.kernels import kernel
from grader.inputs.pairs import (pair_ground_truth, pair_image, synthetic_pair_ground_truth,
                                 synthetic_pair_image)
from grader.inputs.patterns import disc_and_square, rectangles
from grader.inputs.transforms import TRANSFORMS

__all__ = [
    "GENERATORS", "Generator", "TRANSFORMS", "Value", "check_spec", "describe", "generate",
    "generator", "reads_course_data",
    "disc_and_square", "glyphs", "image", "integers", "kernel", "normal", "pair_ground_truth",
    "pair_image", "planted_descriptors", "ramp", "random", "ranked_descriptors", "rectangles",
    "scenes", "synthetic_pair_ground_truth", "synthetic_pair_image", "value",
]


def check_spec(spec: Any) -> str | None:
    """Why ``spec`` is not a valid argument spec, or ``None`` when it is."""
    if not isinstance(spec, dict) or len(spec) != 1:
        return "an argument must be a mapping with exactly one generator, e.g. {random: {...}}"
    (name, params), = spec.items()
    if name not in GENERATORS:
        return f"unknown generator {name!r}; choose one of {sorted(GENERATORS)}"
    return GENERATORS[name].problem(params)


def generate(spec: dict[str, Any]) -> Value:
    """Materialise one argument spec (already validated by :func:`check_spec`)."""
    (name, params), = spec.items()
    return GENERATORS[name].generate(params)


def reads_course_data(spec: dict[str, Any]) -> bool:
    """Whether the value of ``spec`` derives from the course data: decided by the spec itself,
    never by what happened to be read (a cached pair is read once for many checks)."""
    (name, params), = spec.items()
    return GENERATORS[name].reads_course_data(params)


def describe(specs: dict[str, Any]) -> str:
    """A short human description of a case's inputs, e.g. ``image 20×30×3, filter random 5×3``."""
    parts = []
    for name, spec in specs.items():
        (generator_name, params), = spec.items()
        parts.append(f"{name} {GENERATORS[generator_name].describe(params)}")
    return ", ".join(parts)
