"""The ``datasets`` kind: the student's create_datasets runs in the sandbox on a written image folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import grading
from grader.intake import submission
from grader.checks.datasets import DatasetsCheck
from grader.prepare.expected import prepare
from grader.results import Status
from grader.rubric.load import load_rubric

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)

REPO = Path(__file__).resolve().parents[1]
RUBRIC = REPO / "assignments" / "proj4_cnn" / "rubric.yaml"
REFERENCE = (REPO / "reference" / "cnn.py").read_text()

# one-line slips real create_datasets functions make, each applied to the reference
SLIPS = {
    "reference": ("", ""),
    "test_statistics": ('    return (datasets.ImageFolder(osp.join(data_path, "train"), transform=pipeline(True)),',
                        '    test_mean, test_std = get_mean_std(osp.join(data_path, "test"), input_size, rgb)\n'
                        '    test_steps = [transforms.Resize(max(input_size)), transforms.CenterCrop(input_size),\n'
                        '                  transforms.Grayscale(), transforms.ToTensor(),\n'
                        '                  transforms.Normalize(test_mean, test_std)]\n'
                        '    return (datasets.ImageFolder(osp.join(data_path, "train"), transform=pipeline(True)),\n'
                        '            datasets.ImageFolder(osp.join(data_path, "test"),\n'
                        '                                 transform=transforms.Compose(test_steps)))\n'
                        '    return ('),
    "flips_the_test_set": ("transform=pipeline(False)", "transform=pipeline(True)"),
    "not_normalised": ("transforms.Normalize(mean, std)]", "]"),
}


def _grade(tmp_path: Path, slip: str):
    old, new = SLIPS[slip]
    folder = tmp_path / slip
    folder.mkdir()
    (folder / "student_code.py").write_text(REFERENCE.replace(old, new, 1) if old else REFERENCE)
    rubric, rubric_hash = load_rubric(RUBRIC)
    prepared = [p for p in prepare(rubric, rubric_hash) if p.check.id == "create_datasets"]
    with submission.load(folder, rubric.modules) as loaded:
        (result,) = grading.grade(loaded, rubric, rubric_hash, prepared).checks
    return result


def test_the_reference_pipelines_pass_and_each_slip_is_named(tmp_path):
    assert _grade(tmp_path, "reference").score == 2

    statistics = _grade(tmp_path, "test_statistics")
    assert statistics.status == Status.FAILED and statistics.score == pytest.approx(2 * 5 / 6)
    assert "normalised with the training statistics" in statistics.message

    flipped = _grade(tmp_path, "flips_the_test_set")
    assert flipped.score == pytest.approx(2 * 5 / 6)
    assert "no random augmentation at test time" in flipped.message

    raw = _grade(tmp_path, "not_normalised")
    assert raw.score == pytest.approx(2 * 4 / 6)
    assert "normalise with the training set's mean and std" in raw.message


def test_a_missing_function_is_one_sentence(tmp_path):
    folder = tmp_path / "no_datasets"
    folder.mkdir()
    (folder / "student_code.py").write_text("import torch\n")
    rubric, rubric_hash = load_rubric(RUBRIC)
    prepared = [p for p in prepare(rubric, rubric_hash) if p.check.id == "create_datasets"]
    with submission.load(folder, rubric.modules) as loaded:
        (result,) = grading.grade(loaded, rubric, rubric_hash, prepared).checks
    assert result.score == 0 and "defines no function create_datasets" in result.message


@pytest.mark.parametrize("options, text", [
    ({"require": {}}, "non-empty"),
    ({"require": {"shiny": True}}, "unknown rule"),
    ({"require": {"sizes": True}, "input_size": [64]}, "input_size must be"),
    ({"require": {"sizes": True}, "colour": True}, "unknown option"),
])
def test_options_are_validated(options, text):
    assert text in DatasetsCheck.options_problem(options).message
