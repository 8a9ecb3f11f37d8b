"""Rubric validation: errors name the file, the line and the field in one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import RubricError
from grader.rubric.load import load_rubric

REPO = Path(__file__).resolve().parents[1]

VALID = """\
assignment: demo
reference: reference.filtering
checks:
  - id: one
    name: identity
    kind: numeric
    target: student_code:my_imfilter
    points: 2
    cases:
      - args:
          image: {random: {shape: [5, 5, 3], seed: 1}}
          filter: {kernel: {name: identity}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rubric.yaml"
    path.write_text(text)
    return path


def test_every_shipped_rubric_is_valid():
    for path in sorted((REPO / "assignments").glob("*/rubric.yaml")):
        rubric, digest = load_rubric(path)
        assert rubric.assignment == path.parent.name and len(digest) == 16


def test_valid_rubric_and_stable_hash(tmp_path):
    rubric, first = load_rubric(_write(tmp_path, VALID))
    _, second = load_rubric(_write(tmp_path, VALID + "\n# a comment changes nothing\n"))
    assert rubric.checks[0].function == "my_imfilter" and first == second


@pytest.mark.parametrize("old, new, expected", [
    ("    points: 2\n", "    points: two\n", r"line 8, checks\[0\]\.points: Input should be a valid number"),
    ("    points: 2\n", "    points: 2\n    colour: red\n", r"line 9, checks\[0\]\.colour: unknown key 'colour'"),
    ("    target: student_code:my_imfilter\n", "", r"line 4, checks\[0\]\.target: missing required field 'target'"),
    ("    kind: numeric\n", "    kind: magic\n", r"line 6, checks\[0\]\.kind: unknown kind 'magic'"),
    ("{random: {shape: [5, 5, 3], seed: 1}}", "{noise: {shape: [5]}}", r"line 11, checks\[0\]\.cases\[0\]\.args\.image: argument 'image': unknown generator 'noise'"),
    ("{random: {shape: [5, 5, 3], seed: 1}}", "{random: {shape: [5], colour: 1}}", r"line 11, .*bad parameters for 'random'"),
    ("    target: student_code:my_imfilter\n", "    target: my_imfilter\n", r"line 7, checks\[0\]\.target: String should match pattern"),
])
def test_invalid_rubric_names_file_line_and_field(tmp_path, old, new, expected):
    path = _write(tmp_path, VALID.replace(old, new))
    with pytest.raises(RubricError, match=expected) as info:
        load_rubric(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_duplicate_id_is_reported_at_the_second_check(tmp_path):
    body = VALID.split("checks:\n")[1]
    path = _write(tmp_path, VALID + body)
    with pytest.raises(RubricError, match=r"line 13, checks\[1\]\.id: duplicate check id 'one'"):
        load_rubric(path)


def test_yaml_syntax_error_has_a_line(tmp_path):
    with pytest.raises(RubricError, match=r"line 4: not valid YAML"):
        load_rubric(_write(tmp_path, "assignment: demo\nchecks:\n  - id: [unclosed\n"))


def test_missing_file_is_one_sentence(tmp_path):
    with pytest.raises(RubricError, match="cannot read rubric"):
        load_rubric(tmp_path / "absent.yaml")


def _one_check(kind: str, options: str, cases: list[str]) -> str:
    """A rubric of one check of ``kind`` (its ``options`` a YAML flow mapping), whose cases
    name the arguments ``cases[i]`` (a space-separated list), each a literal."""
    listed = "".join("      - args: {" + ", ".join(f"{name}: {{value: 1}}" for name in names.split())
                     + "}\n" for names in cases)
    return ("assignment: demo\nreference: reference.sift\nchecks:\n  - id: one\n    name: one\n"
            f"    kind: {kind}\n    target: student_code:f\n    points: 1\n"
            f"    options: {options}\n    cases:\n{listed}")


PIPELINE = "image_a image_b feature_width ground_truth"
SCENES = "train_images train_labels test_images test_labels"
CURVE = "curve: [[0, 0], [1, 1]]"
BUDGET = "time_budget_s: {cpu: 10, cuda: 5}"


@pytest.mark.parametrize("kind, options, cases, expected", [
    ("accuracy", f"{{{CURVE}}}", [PIPELINE, "image_a image_b feature_width"],
     r"line 12, checks\[0\]\.cases\[1\]\.args: kind 'accuracy' needs argument\(s\) \['ground_truth'\]"),
    ("accuracy", f"{{{CURVE}, num_matches: 0}}", [PIPELINE],
     r"line 9, checks\[0\]\.options\.num_matches: num_matches must be a whole number, 1 or more "
     r"\(got 0\)"),
    ("accuracy", f"{{{CURVE}, scale_factor: -0.5}}", [PIPELINE],
     r"line 9, checks\[0\]\.options\.scale_factor: scale_factor must be a positive number"),
    ("timing", f"{{{CURVE}}}", ["x"],
     r"line 10, checks\[0\]\.cases: a timing check needs two cases or more"),
    ("training", f"{{{CURVE}, {BUDGET}}}", ["train_images train_labels test_images"],
     r"line 11, checks\[0\]\.cases\[0\]\.args: kind 'training' needs argument\(s\) \['test_labels'\]"),
])
def test_what_a_kind_needs_of_its_check_fails_at_load_time(tmp_path, kind, options, cases, expected):
    with pytest.raises(RubricError, match=expected):
        load_rubric(_write(tmp_path, _one_check(kind, options, cases)))


@pytest.mark.parametrize("kind, options, expected", [
    ("accuracy", "\n      curve: [[0, 0], [1, 1]]\n      num_matchs: 50",
     r"line 11, checks\[0\]\.options\.num_matchs: unknown option 'num_matchs' for kind "
     r"'accuracy'; known: curve, detector, descriptor, num_matches, scale_factor$"),
    ("numeric", "\n      atol: 0.1", r"line 10, checks\[0\]\.options\.atol: kind 'numeric' takes no "
     r"options$"),
    ("gradient", "\n      wrt: [x]\n      partial:\n        forward: 0.5\n        consistant: 0.5",
     r"line 13, checks\[0\]\.options\.partial\.consistant: unknown option 'partial.consistant' "
     r"for kind 'gradient'; known: partial.forward, partial.consistent$"),
    ("property", "\n      output: descriptors\n      properties:\n        unit_norm: {tol: 0.1}\n"
     "        shiny: {}", r"line 13, checks\[0\]\.options\.properties\.shiny: unknown property "
     r"'shiny'"),
])
def test_an_option_its_kind_does_not_know_fails_with_the_line_of_its_key(tmp_path, kind, options,
                                                                         expected):
    """Each kind's options are a model that refuses keys it does not list: a misspelt option
    fails to load, at its own line, instead of being ignored."""
    with pytest.raises(RubricError, match=expected) as info:
        load_rubric(_write(tmp_path, _one_check(kind, options, [PIPELINE])))
    assert str(info.value).startswith(str(tmp_path / "rubric.yaml"))


@pytest.mark.parametrize("kind, options, cases", [
    ("accuracy", f"{{{CURVE}, num_matches: 50, scale_factor: 0.25}}", [PIPELINE]),
    ("timing", f"{{{CURVE}}}", ["x", "x"]),
    ("training", f"{{{CURVE}, {BUDGET}}}", [SCENES]),
])
def test_the_same_checks_with_what_their_kind_needs_load(tmp_path, kind, options, cases):
    rubric, _ = load_rubric(_write(tmp_path, _one_check(kind, options, cases)))
    assert rubric.checks[0].kind == kind


@pytest.mark.parametrize("kind, options, cases, extra, expected", [
    ("accuracy", f"{{{CURVE}}}", [PIPELINE], "    compare: {atol: 0.1}\n",
     r"line 9, checks\[0\]\.compare: accuracy checks do not use 'compare' \(only numeric and "
     r"timing checks do\): remove it"),
    ("training", f"{{{CURVE}, {BUDGET}}}", [SCENES],
     "    diagnoses: [{argument: train_images, transform: flip, message: flipped}]\n",
     r"line 9, checks\[0\]\.diagnoses: training checks do not use 'diagnoses' \(only gradient "
     r"and numeric checks do\)"),
])
def test_a_field_the_checks_kind_does_not_read_fails_at_load_time(tmp_path, kind, options, cases,
                                                                  extra, expected):
    """compare: and diagnoses: belong to every check's model, but mean something to some kinds
    only: set on another kind they would load and do nothing."""
    text = _one_check(kind, options, cases).replace("    options:", extra + "    options:")
    with pytest.raises(RubricError, match=expected):
        load_rubric(_write(tmp_path, text))
