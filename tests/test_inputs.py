"""The generator registry (grader/inputs/): each generator owns its validation, its value,
its description and whether it reads the course data; the functions only look it up."""

from __future__ import annotations

import numpy as np
import pytest

from grader import inputs
from grader.inputs.registry import GENERATORS, generator


def test_every_generator_is_a_documented_function_of_its_family_module():
    for name, made in GENERATORS.items():
        assert made.make.__doc__, name
        assert made.make.__module__.startswith("grader.inputs."), name
        assert getattr(inputs, made.make.__name__) is made.make, name


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="'random' is registered twice"):
        generator("random")(lambda: None)
    assert GENERATORS["random"].make is inputs.random


@pytest.mark.parametrize("spec, words", [
    ({"random": {"shape": [20, 30, 3], "seed": 1}}, "20×30×3"),
    ({"kernel": {"name": "random", "size": [5, 3]}}, "random 5×3"),
    ({"kernel": {"name": "box"}}, "box 3×3"),
    ({"image": {"source": "skimage:astronaut", "gray": True}}, "astronaut"),
    ({"value": 16}, "value"),
    ({"glyphs": {"part": "labels", "count": 8, "seed": 0}}, "glyphs"),
])
def test_describe_says_a_few_words_per_argument(spec, words):
    assert inputs.describe({"x": spec, "y": {"value": [1, 2]}}) == f"x {words}, y value"


@pytest.mark.parametrize("spec, problem", [
    ({"value": {"anything": "goes"}}, None),
    ({"random": {"shape": [2]}}, "bad parameters for 'random': missing a required argument: 'seed'"),
    ({"random": [2]}, "the parameters of 'random' must be a mapping"),
    ({"noise": {}}, "unknown generator 'noise'; choose one of"),
    ({"random": {}, "normal": {}}, "exactly one generator"),
])
def test_check_spec_names_the_problem(spec, problem):
    found = inputs.check_spec(spec)
    assert found is None if problem is None else problem in found


def test_generate_is_seeded_and_literal_values_are_arrays():
    spec = {"normal": {"shape": [3, 4], "seed": 7}}
    assert inputs.generate(spec).tobytes() == inputs.generate(spec).tobytes()
    assert np.array_equal(inputs.generate({"value": [[1, 2]]}), [[1, 2]])
    assert inputs.generate({"value": 16}) == 16
