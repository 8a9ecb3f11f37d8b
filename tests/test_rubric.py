"""Rubric validation: errors name the file, the line and the field in one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import RubricError
from grader.rubric import load_rubric

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
    for path in sorted((REPO / "rubrics").glob("*.yaml")):
        rubric, digest = load_rubric(path)
        assert rubric.assignment == path.stem and len(digest) == 16


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
