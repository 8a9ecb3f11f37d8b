"""A notebook handed in is graded exactly as the ``.py`` it defines: its definitions and imports
are lifted from the code cells, its demo code (training, plotting, magics) never runs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader import ipynb, submission
from grader.errors import SubmissionError

from conftest import REPO, run_grader

CORRECT = (REPO / "examples" / "proj1_filtering" / "alice_correct" / "student_code.py").read_text()


def _notebook(path: Path, cells: list[tuple[str, str]], version: int = 4) -> Path:
    """Write ``cells`` (kind, source) as a notebook of nbformat ``version``."""
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}
    document = nbformat.v4.new_notebook(cells=[make[kind](source) for kind, source in cells])
    if version == 3:
        document = nbformat.convert(document, 3)
    nbformat.write(document, path, version=version)
    return path


def _course_notebook(path: Path) -> Path:
    """The course's workflow in a notebook: magics, the solution, and demo code that would
    load images, loop for ever and write files if it ran."""
    return _notebook(path, [
        ("markdown", "# Project 1: hybrid images"),
        ("code", "%matplotlib inline\n%load_ext autoreload\n!pip install opencv-python\n"
                 "import numpy as np\nimport matplotlib.pyplot as plt"),
        ("code", CORRECT),
        ("code", "%%time\nwhile True:\n    pass"),
        ("code", "image1 = plt.imread('../data/dog.bmp')\nopen('/tmp/demo_ran', 'w').write('x')\n"
                 "while True:\n    low = my_imfilter(image1, np.ones((3, 3)) / 9)"),
        ("code", "def broken(:\n    pass"),
        ("code", "CUTOFF = 7\nSIZES = (3, 5)\nresult = create_hybrid_image(image1, image1, None)"),
    ])


def test_only_definitions_and_imports_are_lifted(tmp_path):
    lifted = ipynb.lift(_course_notebook(tmp_path / "proj1.ipynb"))
    compiled = compile(lifted.source, "lifted", "exec")  # valid Python
    assert compiled is not None
    assert "def my_imfilter" in lifted.source and "import numpy as np" in lifted.source
    assert "CUTOFF = 7" in lifted.source and "SIZES = (3, 5)" in lifted.source
    for demo in ("while True", "plt.imread", "%matplotlib", "!pip", "open(", "result ="):
        assert demo not in lifted.source, demo
    assert lifted.cells["my_imfilter"] == 3 and lifted.cells["CUTOFF"] == 7
    assert lifted.skipped == [6]


def test_an_old_nbformat_3_notebook_is_read(tmp_path):
    lifted = ipynb.lift(_notebook(tmp_path / "old.ipynb", [("code", "def f():\n    return 1")], 3))
    assert "def f():" in lifted.source and lifted.cells == {"f": 1}


def test_a_broken_notebook_is_one_sentence(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "proj1.ipynb").write_text("{not json")
    with pytest.raises(SubmissionError, match="proj1.ipynb: not a readable Jupyter notebook"):
        submission.load(tmp_path / "alice", ["student_code"])


def test_a_notebook_named_after_the_module_wins(tmp_path):
    folder = tmp_path / "bob"
    folder.mkdir()
    _notebook(folder / "scratch.ipynb", [("code", "def my_imfilter(image, filter):\n    return 0")])
    _notebook(folder / "student_code.ipynb", [("code", CORRECT)])
    with submission.load(folder, ["student_code"]) as loaded:
        assert "def create_hybrid_image" in loaded.source_of("student_code")
        assert any(n.startswith("student_code.py lifted from student_code.ipynb") for n in loaded.notes)


@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_a_notebook_is_graded_like_the_py_it_defines(tmp_path):
    corpus = tmp_path / "submissions"
    corpus.mkdir()
    _course_notebook(corpus / "nina.ipynb")  # a lone notebook: the student id is its name
    (corpus / "pete").mkdir()
    (corpus / "pete" / "student_code.py").write_text(CORRECT)
    out = tmp_path / "results.json"
    proc = run_grader("grade", "proj1_filtering", str(corpus), "--db", str(tmp_path / "g.sqlite"),
                      "--json", str(out), "--quiet", env={"GRADER_DATA": str(tmp_path / "none")},
                      timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {r["student"]: r for r in json.loads(out.read_text())}
    assert set(results) == {"nina", "pete"}
    nina, pete = results["nina"], results["pete"]
    assert nina["score"] == pete["score"] > 0
    assert [c["status"] for c in nina["checks"]] == [c["status"] for c in pete["checks"]]
    (lifted_note,) = [n for n in nina["notes"] if "lifted from nina.ipynb" in n]
    assert "my_imfilter (cell 3)" in lifted_note and "cells 6 left out" in lifted_note
    assert not Path("/tmp/demo_ran").exists()
