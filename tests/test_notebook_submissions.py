"""A notebook handed in is graded exactly as the ``.py`` it defines: its definitions and imports
are lifted from the code cells, its demo code (training, plotting, magics) never runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.intake import ipynb, submission
from grader.errors import SubmissionError

from conftest import REPO, run_grader

CORRECT = (REPO / "assignments" / "proj1_filtering" / "examples" / "alice_correct" / "student_code.py").read_text()


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


# --- untrusted notebooks: linear lifting and caps -----------------------------------------

def _one_cell_notebook(path: Path, source: str, outputs: int = 0) -> Path:
    """A notebook whose one code cell holds ``source`` (and ``outputs`` small stream outputs),
    written as JSON directly: nbformat's writer validates, which is slow for big ones."""
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "source": source,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "x\n"}] * outputs}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 4}))
    return path


def test_a_notebook_of_20000_definitions_is_lifted_in_linear_time(tmp_path):
    source = "\n".join(f"def f{i}(x): return x + {i}" for i in range(20_000))
    notebook = _one_cell_notebook(tmp_path / "padded.ipynb", source)
    started = time.process_time()  # CPU time: a busy machine does not lengthen it
    lifted = ipynb.lift(notebook)
    seconds = time.process_time() - started
    print(f"20 000 definitions lifted in {seconds:.2f} CPU-s")  # under 1 s; 35-77 s quadratic
    assert seconds < 10
    assert len(lifted.cells) == 20_000 and lifted.source.count("\ndef f") == 20_000


def test_decorators_come_with_their_definitions_and_nothing_is_indented(tmp_path):
    cell = ("import functools\n@functools.lru_cache(maxsize=None)\ndef cached(n):\n    return n\n"
            "import os; from math import (pi,\n    tau)\n"
            "@(\n  functools.total_ordering\n)\nclass Order:\n    pass\n")
    lifted = ipynb.lift(_notebook(tmp_path / "deco.ipynb", [("code", cell)]))
    assert "@functools.lru_cache(maxsize=None)\ndef cached(n):" in lifted.source
    assert "@(\n  functools.total_ordering\n)\nclass Order:" in lifted.source
    # each import is one line of its own: run through the lifted module's guard where a kept
    # statement uses it (the decorators use functools), left out where none does
    assert "\nfunctools = _grader_import(1, 'import functools', 'functools')\n" in lifted.source
    assert "\n_grader_left_out(1, 'from math import (pi, tau)')\n" in lifted.source
    compile(lifted.source, "lifted", "exec")


def test_an_import_that_fails_costs_only_the_functions_that_use_it(tmp_path, capsys):
    """A real proj1 notebook imports scipy.misc.imresize (removed years ago) and a helper .py it
    never handed in, and scored 0/22 with a correct my_imfilter (15/22 without those lines):
    an import no function uses is not run, and one that fails costs only the functions that
    use it, with why."""
    cell = ("import numpy as np\nfrom scipy.misc import imresize\nimport proj1_helpers as helpers\n"
            "def doubled(x):\n    return np.asarray(x) * 2\n"
            "def smaller(x):\n    return imresize(x, 0.5)\n"
            "def smallest(x):\n    return smaller(smaller(x))\n")
    notebook = _notebook(tmp_path / "old.ipynb", [("code", cell), ("code", "helpers.show(1)")])
    lifted = ipynb.lift(notebook, ["student_code"], importable=lambda name: name != "proj1_helpers")
    space: dict = {}
    exec(compile(lifted.source, "lifted", "exec"), space)
    printed = capsys.readouterr().out
    assert "note: cell 1's `from scipy.misc import imresize` failed: cannot import name" in printed
    assert "proj1_helpers" not in printed  # only the demo uses it: not run
    assert "site-packages" not in printed  # no path of the grading machine
    assert space["doubled"]([1, 2]).tolist() == [2, 4]
    with pytest.raises(ImportError, match="cell 1's `from scipy.misc import imresize` failed"):
        space["smallest"](np.zeros((4, 4)))
    demo, fails = ipynb.import_notes(notebook, lifted)
    assert demo == ("old.ipynb: not run, as only its demo code uses what they import: "
                    "`import proj1_helpers as helpers` (cell 1: no proj1_helpers.py was handed in)")
    assert fails.startswith("old.ipynb: cell 1's `from scipy.misc import imresize`: "
                            "scipy.misc.imresize was removed in SciPy 1.3.0; no course environment "
                            "runs it (SciPy 1.2, the last with it, needs Python 3.7 or older): use "
                            "skimage.transform.resize")
    assert fails.endswith("; smaller, smallest use it")  # directly or through another function


def test_an_import_only_the_demo_uses_is_not_run_and_a_failing_one_is_named_first(tmp_path):
    notebook = _notebook(tmp_path / "demo.ipynb", [
        ("code", "import numpy as np\nimport matplotlib.pyplot as plt\n"
                 "from skimage.measure import compare_ssim\nimport cv2"),
        ("code", "def my_imfilter(image, filter):\n    return np.asarray(image)\n"),
        ("code", "plt.imshow(my_imfilter(cv2.imread('dog.bmp'), None))\n"
                 "print(compare_ssim(1, 1))")])
    lifted = ipynb.lift(notebook)
    assert "np = _grader_import(1, 'import numpy as np', 'np')" in lifted.source
    for statement in ("import matplotlib.pyplot as plt", "import cv2",
                      "from skimage.measure import compare_ssim"):
        assert f"_grader_left_out(1, {statement!r})" in lifted.source
    (note,) = ipynb.import_notes(notebook, lifted)
    assert note == ("demo.ipynb: not run, as only its demo code uses what they import: "
                    "`from skimage.measure import compare_ssim` (cell 1: "
                    "skimage.measure.compare_ssim moved to skimage.metrics.structural_similarity), "
                    "`import matplotlib.pyplot as plt` (cell 1), `import cv2` (cell 1)")
    # the similarity report still reads the imports as the student wrote them
    assert ipynb.as_written(lifted.source).splitlines()[3:7] == [
        "# --- cell 1", "import numpy as np", "import matplotlib.pyplot as plt",
        "from skimage.measure import compare_ssim"]


def test_the_course_notebooks_import_of_its_own_module_is_its_own_definitions(tmp_path):
    """The F18 notebooks say `from student_code import my_imfilter, create_hybrid_image` before
    and after the cells that define them: lifted as student_code.py, the notebook is that module,
    so the import is not run (it failed as a circular import and bound stand-ins in place of the
    functions); a name it imports that the notebook does not define is named in a note."""
    notebook = _notebook(tmp_path / "proj1.ipynb", [
        ("code", "import numpy as np\nfrom student_code import my_imfilter, create_hybrid_image"),
        ("code", "def my_imfilter(image, filter):\n    return np.asarray(image) * 2\n"),
        ("code", "def create_hybrid_imgae(a, b, f):\n    return my_imfilter(a, f)\n"),
        ("code", "from student_code import my_imfilter\nmy_imfilter(1, 2)")])
    lifted = ipynb.lift(notebook, ["student_code"])
    space: dict = {}
    exec(compile(lifted.source, "lifted", "exec"), space)
    assert space["my_imfilter"](3, None).tolist() == 6
    assert "create_hybrid_image" not in space
    assert ipynb.import_notes(notebook, lifted) == [
        "proj1.ipynb: cell 1 imports create_hybrid_image (did you mean create_hybrid_imgae?) from "
        "student_code.py, which was not handed in, and the notebook does not define it"]


def test_a_failed_import_leaves_a_name_the_notebook_bound_as_it_was(tmp_path, capsys):
    """As in Jupyter, where a failed import binds nothing: a later import that fails does not
    replace a function an earlier cell defined; a `from x import *` runs in the same guard."""
    notebook = _notebook(tmp_path / "again.ipynb", [
        ("code", "def resize(x):\n    return x + 1\n"),
        ("code", "from scipy.misc import imresize as resize\nfrom proj1_helpers import *\n"
                 "from math import *\n"
                 "def bigger(x):\n    return resize(x) * pi // pi\n")])
    space: dict = {}
    exec(compile(ipynb.lift(notebook).source, "lifted", "exec"), space)
    assert space["bigger"](1) == 2
    printed = capsys.readouterr().out
    assert "cell 2's `from proj1_helpers import *` failed: No module named 'proj1_helpers'" in printed


def test_outputs_are_not_read(tmp_path):
    """Lifting never reads outputs; nbformat's validation of 100 000 of them took 2.5 s."""
    notebook = _one_cell_notebook(tmp_path / "chatty.ipynb", "def f():\n    return 1",
                                  outputs=50_000)
    started = time.perf_counter()
    assert ipynb.lift(notebook).cells == {"f": 1}
    assert time.perf_counter() - started < 1.5


@pytest.mark.parametrize("cap, value, message", [
    ("MAX_NOTEBOOK_BYTES", 1_000, r"big.ipynb: \d\.\d+ KiB, more than the 1000 bytes a notebook "
                                  r"may have; clear its outputs"),
    ("MAX_CELLS", 3, r"big.ipynb: 4 cells, more than the 3 a notebook may have"),
    ("MAX_CODE_CHARS", 100, r"big.ipynb: its code cells hold \d+ characters, more than the "
                            r"100 a notebook may have"),
])
def test_a_notebook_over_a_cap_is_one_sentence(tmp_path, monkeypatch, cap, value, message):
    notebook = _notebook(tmp_path / "big.ipynb", [("code", f"X{i} = {i}\n" * 10) for i in range(4)])
    monkeypatch.setattr(ipynb, cap, value)
    with pytest.raises(SubmissionError, match=f"^{message}"):
        ipynb.lift(notebook)


def test_lifted_source_over_the_module_cap_is_one_sentence(tmp_path, monkeypatch):
    folder = tmp_path / "olga"
    folder.mkdir()
    _notebook(folder / "proj1.ipynb", [("code", CORRECT)])
    monkeypatch.setattr(submission, "MAX_SOURCE_BYTES", 100)
    with pytest.raises(SubmissionError, match=r"^proj1.ipynb \(its definitions and imports\): "
                                              r"[\d.]+ (bytes|KiB) of source, more than the 100 bytes a "
                                              r"graded module may have; keep data in files"):
        submission.load(folder, ["student_code"])


def test_a_forbidden_call_through_a_notebooks_import_alias_is_still_found(tmp_path):
    """The source rules follow imports to the names they bind: a notebook's import, now run
    through the lifted module's helper, is read as the student wrote it."""
    from grader.intake import source_rules

    cell = ("from scipy.ndimage import correlate as smooth\n"
            "def my_imfilter(image, filter):\n    return smooth(image, filter)\n")
    lifted = ipynb.lift(_notebook(tmp_path / "alias.ipynb", [("code", cell)]))
    written = ipynb.as_written(lifted.source)
    assert "from scipy.ndimage import correlate as smooth" in written.splitlines()
    sites = source_rules.forbidden_calls(written, "my_imfilter", ["scipy.ndimage.correlate"])
    assert [site.name for site in sites] == ["scipy.ndimage.correlate"]


def test_a_line_that_looks_like_a_lifted_import_inside_a_string_stays_as_it_is(tmp_path):
    """Only the lines lifting wrote are read back as imports: one that a student's string holds
    cannot turn into code and hide a forbidden call from the source rules."""
    from grader.intake import source_rules

    cell = ('from scipy.ndimage import correlate\n'
            'def my_imfilter(image, filter):\n    """\nx = _grader_import(1, "\'\'\'", \'x\')\n"""\n'
            '    return correlate(image, filter)\n')
    written = ipynb.as_written(ipynb.lift(_notebook(tmp_path / "tricky.ipynb", [("code", cell)])).source)
    compile(written, "written", "exec")
    sites = source_rules.forbidden_calls(written, "my_imfilter", ["scipy.ndimage.correlate"])
    assert [site.name for site in sites] == ["scipy.ndimage.correlate"]


def test_the_note_names_the_cell_whose_definition_runs(tmp_path):
    """Two cells define my_imfilter: Python keeps the later one, and so does the note."""
    notebook = _notebook(tmp_path / "twice.ipynb", [
        ("code", "def my_imfilter(image, filter):\n    return None\n"),
        ("code", "def my_imfilter(image, filter):\n    return image\n")])
    assert ipynb.lift(notebook).cells["my_imfilter"] == 2


# --- graded as the course ran them: imports, misnamed functions, messages --------------------

FILTER_CHECKS = [
    {"id": "identity", "name": "identity", "kind": "numeric", "target": "student_code:my_imfilter",
     "points": 2, "compare": {"region": "full", "atol": 1e-6, "rtol": 0},
     "cases": [{"args": {"image": {"random": {"shape": [8, 9, 3], "seed": 1}},
                         "filter": {"kernel": {"name": "identity", "size": 3}}}}]},
    {"id": "hybrid", "name": "hybrid", "kind": "numeric", "target": "student_code:create_hybrid_image",
     "points": 1, "compare": {"region": "interior", "margin_from": "filter", "atol": 1e-4,
                              "rtol": 1e-4},
     "cases": [{"args": {"image1": {"random": {"shape": [8, 9, 3], "seed": 2}},
                         "image2": {"random": {"shape": [8, 9, 3], "seed": 3}},
                         "filter": {"kernel": {"name": "box", "size": 3}}}}]},
]


def _grade_notebook(folder: Path, cells: list[str]):
    """Grade a notebook of ``cells`` (alone in ``folder``) on two small proj1 checks."""
    from grader import grading
    from grader.prepare.expected import prepare
    from grader.rubric.load import Rubric, rubric_hash

    folder.mkdir()
    _notebook(folder / "proj1.ipynb", [("code", cell) for cell in cells])
    data = {"assignment": "notebook_demo", "reference": "reference.filtering",
            "defaults": {"timeout_s": 20}, "checks": FILTER_CHECKS}
    rubric, digest = Rubric.model_validate(data), rubric_hash(data)
    with submission.load(folder, rubric.modules) as loaded:
        result = grading.grade(loaded, rubric, digest, prepare(rubric, digest))
    return result, {check.id: check for check in result.checks}


def test_a_notebook_with_imports_it_never_needed_is_graded_on_its_functions(tmp_path):
    """The notebook of issue #31: scipy.misc.imresize and a helper .py never handed in, used
    only by the demo: full marks, and the result says what was not run and why."""
    result, checks = _grade_notebook(tmp_path / "nina", [
        "import numpy as np\nfrom scipy.misc import imresize\nimport proj1_helpers as helpers\n"
        "from student_code import my_imfilter, create_hybrid_image",
        CORRECT,
        "small = imresize(helpers.load('dog.bmp'), 0.5)\nmy_imfilter(small, np.ones((3, 3)))"])
    assert result.score == 3 and all(c.status.value == "passed" for c in checks.values())
    (demo,) = [n for n in result.notes if "not run, as only its demo code" in n]
    assert "`from scipy.misc import imresize` (cell 1: scipy.misc.imresize was removed in SciPy 1.3.0)" in demo
    assert "`import proj1_helpers as helpers` (cell 1: no proj1_helpers.py was handed in)" in demo
    assert not [n for n in result.notes if "student_code.py, which was not handed in" in n]


def test_an_import_a_graded_function_uses_fails_with_what_became_of_the_api(tmp_path):
    _, checks = _grade_notebook(tmp_path / "omar", [
        "import numpy as np\nfrom scipy.misc import imresize",
        CORRECT.replace("def my_imfilter(image, filter):\n",
                        "def my_imfilter(image, filter):\n    image = imresize(image, 1.0)\n", 1)])
    message = checks["identity"].message
    assert checks["identity"].status.value == "error"
    assert ("my_imfilter raised ImportError: cell 1's `from scipy.misc import imresize` failed: "
            "cannot import name 'imresize' from 'scipy.misc' — scipy.misc.imresize was removed "
            "in SciPy 1.3.0; no course environment runs it") in message
    assert "create_hybrid_image raised ImportError" in checks["hybrid"].message  # through my_imfilter


def test_a_misnamed_function_gets_did_you_mean_even_where_an_import_binds_its_name(tmp_path):
    """The F19 notebooks import the functions from the package they ran beside: here the import
    fails and binds a stand-in under the graded name, which the worker called ("No module named
    ..." for a function the notebook defines under another name). A stand-in is a missing
    function: the message names the notebook, the closest function it defines and the import."""
    _, checks = _grade_notebook(tmp_path / "pat", [
        "import numpy as np\nfrom proj1_code.part1 import my_imfilter, create_hybrid_image",
        CORRECT.replace("def my_imfilter(", "def my_imfliter(")])
    assert checks["identity"].message.endswith(
        "proj1.ipynb (lifted as student_code.py) defines no function 'my_imfilter' (did you mean "
        "'my_imfliter'?); cell 1's `from proj1_code.part1 import my_imfilter, create_hybrid_image` "
        "failed: No module named 'proj1_code'")
    # create_hybrid_image, defined after the import, calls the stand-in: the import's error
    assert checks["hybrid"].message.endswith(
        "create_hybrid_image raised ImportError: cell 1's `from proj1_code.part1 import my_imfilter,"
        " create_hybrid_image` failed: No module named 'proj1_code'")


def test_a_function_only_misnamed_gets_did_you_mean_naming_the_notebook(tmp_path):
    _, checks = _grade_notebook(tmp_path / "quinn", [CORRECT.replace("my_imfilter", "myImfilter")])
    assert checks["identity"].message.endswith(
        "proj1.ipynb (lifted as student_code.py) defines no function 'my_imfilter' (did you mean "
        "'myImfilter'?)")
    assert checks["hybrid"].status.value == "passed"
