"""Which prepared inputs derive from the course's own data (never shipped in a kit) is decided
by the rubric's specs, not by counting file reads: a course pair is read once and cached, and
a second check on it must still count as course data."""

from __future__ import annotations

import numpy as np
import pytest

from grader import inputs
from grader.inputs import pairs
from grader.datapath import CourseDataMissing
from grader.prepare.expected import prepare
from grader.rubric.load import Rubric

PAIR = {"pair_image": {"pair": "notre_dame", "which": "a"}}


def _two_checks_on_one_pair() -> Rubric:
    case = {"id": "nd", "args": {"image": PAIR, "x": {"value": [100]}, "y": {"value": [100]},
                                 "feature_width": {"value": 16}}}
    check = {"kind": "property", "target": "student_sift:get_features", "points": 1,
             "reference": "reference.sift:get_features",
             "options": {"output": "descriptors", "properties": {"unit_norm": {"tol": 1.0e-3}}},
             "cases": [case]}
    return Rubric.model_validate({"assignment": "provenance", "reference": "reference.sift",
                                  "checks": [{**check, "id": "first", "name": "first"},
                                             {**check, "id": "second", "name": "second"}]})


def test_a_second_check_on_a_cached_course_pair_is_course_data_too(course_data):
    prepared = prepare(_two_checks_on_one_pair(), "provenance")
    assert [p.uses_course_data for p in prepared] == [True, True]
    assert all(p.unavailable is None for p in prepared)


@pytest.fixture
def fake_course_data(monkeypatch, tmp_path):
    """A course-data folder holding one tiny generated ``notre_dame`` pair (where the real
    data is absent, the regression above still runs)."""
    from PIL import Image

    folder = tmp_path / "data" / "proj2" / "notre_dame"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (240, 240, 3), dtype=np.uint8)).save(folder / name)
    points = {key: np.array([100.0, 120.0]) for key in ("x1", "y1", "x2", "y2")}
    np.savez(folder / "notre_dame_gt.npz", image_a="a.png", image_b="b.png", **points)
    monkeypatch.setenv("GRADER_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    pairs.course_pair.cache_clear()
    yield
    pairs.course_pair.cache_clear()


def test_a_second_check_on_a_cached_fake_course_pair_is_course_data_too(fake_course_data):
    prepared = prepare(_two_checks_on_one_pair(), "provenance")
    assert all(p.unavailable is None for p in prepared)
    assert [p.uses_course_data for p in prepared] == [True, True]


SAMPLES = {"pair_image": PAIR["pair_image"], "pair_ground_truth": {"pair": "notre_dame"},
           "scenes": {"split": "test", "part": "labels"},
           "image": {"source": "course:proj1/1a_dog.bmp"}}


@pytest.fixture
def no_course_data(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADER_DATA", str(tmp_path / "absent"))
    monkeypatch.setattr("grader.datapath._DEFAULT", tmp_path / "absent")
    pairs.course_pair.cache_clear()
    yield
    pairs.course_pair.cache_clear()


def test_without_the_data_both_are_course_data_and_unavailable(no_course_data):
    prepared = prepare(_two_checks_on_one_pair(), "provenance")
    assert [p.uses_course_data for p in prepared] == [True, True]
    assert all(p.unavailable for p in prepared)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_generator_that_needs_the_course_data_is_declared(name, no_course_data):
    with pytest.raises(CourseDataMissing):
        inputs.generate({name: SAMPLES[name]})
    assert inputs.reads_course_data({name: SAMPLES[name]})


def test_the_declared_set_is_the_generators_that_read_course_files():
    declared = {name for name, made in inputs.GENERATORS.items() if made.course_data is not False}
    assert declared == set(SAMPLES)
    assert not inputs.reads_course_data({"image": {"source": "skimage:astronaut"}})
