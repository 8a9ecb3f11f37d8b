"""The tutorial (docs/tutorial.md) followed to the letter: its files written, its commands run
in order, and what its prose says about the results checked, so the guide cannot rot.

Its files are the blocks introduced by a line ``File `PATH`:``; its commands are the ``$ ``
lines of its ``console`` blocks.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from conftest import REPO, run_grader

TUTORIAL = REPO / "docs" / "tutorial.md"
FILE_BLOCK = re.compile(r"^File `([^`]+)`:\n\n```\w*\n(.*?)^```$", re.M | re.S)
CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```$", re.M | re.S)

pytestmark = pytest.mark.slow  # grades, builds a kit and audits: over 10 s


def tutorial_files() -> dict[str, str]:
    return {path: body for path, body in FILE_BLOCK.findall(TUTORIAL.read_text())}


def tutorial_commands() -> list[list[str]]:
    commands = []
    for block in CONSOLE_BLOCK.findall(TUTORIAL.read_text()):
        commands += [shlex.split(line[2:]) for line in block.splitlines() if line.startswith("$ ")]
    return commands


def test_the_tutorial_names_its_files_and_commands():
    files, commands = tutorial_files(), tutorial_commands()
    assert {"toy_stretch/rubric.yaml", "toy_stretch/reference.py",
            "toy_stretch/kit/student_code.py"} <= set(files)
    assert [c[1] for c in commands] == ["prepare", "check", "grade", "report", "kit", "audit"]
    assert all(c[0] == "grader" for c in commands)


@pytest.fixture(scope="module")
def followed(tmp_path_factory) -> tuple[Path, dict[str, object]]:
    """A folder where every step of the tutorial ran; each command's completed process."""
    root = tmp_path_factory.mktemp("tutorial")
    for path, body in tutorial_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(body)
    runs = {}
    for command in tutorial_commands():
        runs[command[1]] = run_grader(*command[1:], cwd=root)
    return root, runs


def test_every_command_of_the_tutorial_succeeds(followed):
    _, runs = followed
    for name, proc in runs.items():
        assert proc.returncode == 0, f"grader {name}: {proc.stdout}{proc.stderr}"


def test_the_scores_are_the_ones_the_tutorial_states(followed):
    root, _ = followed
    scores = {r["student"]: r["score"] for r in json.loads((root / "toy.json").read_text())}
    assert scores == {"alice": 3, "bob": 2, "carol": 0}
    text = TUTORIAL.read_text()
    assert "Alice earns 3 of 3 points, Bob 2" in text and "Carol 0" in text
    assert (root / "toy-report" / "index.html").is_file()


def test_the_kit_has_the_stub_and_the_visible_check_only(followed):
    root, _ = followed
    kit = root / "toy-kit"
    assert (kit / "student_code.py").read_text() == tutorial_files()["toy_stretch/kit/student_code.py"]
    everything = b"".join(p.read_bytes() for p in kit.rglob("*") if p.is_file()
                          and p.suffix != ".whl")
    assert b"stretch_random" in everything and b"stretch_flat" not in everything
    assert b"(high - low)" not in everything  # the answer key's text


def test_the_audit_finds_what_the_tutorial_says(followed):
    _, runs = followed
    summary = runs["audit"].stdout
    assert "all 7 mutants: 5 killed" in summary and "2 survived" in summary, summary
    assert "It makes 7 mutants of `stretch`: 5 are killed and 2 survive." in TUTORIAL.read_text()


def test_a_submission_cannot_read_the_assignment_folder(followed, tmp_path):
    # the answer key lies beside the rubric, outside the repository: a student who knows its
    # path still cannot open it from the sandbox
    root, _ = followed
    answer = root / "toy_stretch" / "reference.py"
    thief = tmp_path / "mallory"
    thief.mkdir()
    (thief / "student_code.py").write_text(
        "import numpy as np\n"
        f"STOLEN = open({str(answer)!r}).read()\n"
        "def stretch(image):\n"
        "    image = np.asarray(image, dtype=float)\n"
        "    span = image.max() - image.min()\n"
        "    return (image - image.min()) / span if span else np.zeros_like(image)\n")
    out = tmp_path / "mallory.json"
    proc = run_grader("check", str(root / "toy_stretch"), str(thief), "--json", str(out), cwd=root)
    result = json.loads(out.read_text())
    assert proc.returncode == 1 and result["score"] == 0, proc.stdout
    assert "Permission denied" in proc.stdout or "No such file" in proc.stdout, proc.stdout
