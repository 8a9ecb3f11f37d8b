"""What a student reads about a failure names their code and the libraries, never the grading
machine: no absolute path of its Python, its libraries or the sandbox's folders (issue #31)."""

from __future__ import annotations

import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import SandboxSession
from grader.sandbox.installation import WORKER_DIR
from grader.sandbox.mounts import Limits

SOURCE = '''
import numpy as np

def bent(a):
    return np.reshape(a, (7, 7))

def opened():
    return open("no_such_file.txt").read()
'''


def _machine_paths() -> set[str]:
    return {sys.prefix, sys.base_prefix, sysconfig.get_path("purelib"),
            sysconfig.get_path("stdlib"), str(WORKER_DIR)}


def _assert_no_machine_path(text: str, *more: Path) -> None:
    for path in _machine_paths() | {str(p) for p in more}:
        assert path not in text, (path, text)


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "student_code.py").write_text(textwrap.dedent(SOURCE))
    return tmp_path


def test_an_error_inside_a_library_names_it_under_site_packages(folder):
    with SandboxSession(folder, limits=Limits(memory_mb=1024)) as session:
        outcome = session.call("student_code", "bent", [np.ones(5)], 10)
        opened = session.call("student_code", "opened", [], 10)
    assert outcome.status == "raised" and "ValueError" in outcome.error
    assert 'File "site-packages/numpy/' in outcome.traceback  # the library's frame, by its name
    assert 'File "student_code.py", line 5, in bent' in outcome.traceback  # the student's own
    _assert_no_machine_path(outcome.error + outcome.traceback, folder)
    assert "FileNotFoundError" in opened.error
    _assert_no_machine_path(opened.error + opened.traceback, folder)


def test_an_import_of_a_removed_api_says_what_became_of_it_without_a_path(tmp_path):
    """The .py of issue #31: `from scipy.misc import imread` failed the import with the path of
    the grading machine's scipy in the message."""
    from grader import grading
    from grader.intake import submission
    from grader.prepare.expected import prepare
    from grader.rubric.load import Rubric, rubric_hash

    folder = tmp_path / "rita"
    folder.mkdir()
    (folder / "student_code.py").write_text("from scipy.misc import imread\n\n"
                                            "def my_imfilter(image, filter):\n    return image\n")
    data = {"assignment": "messages_demo", "reference": "reference.filtering",
            "checks": [{"id": "identity", "name": "identity", "kind": "numeric",
                        "target": "student_code:my_imfilter", "points": 1,
                        "compare": {"region": "full", "atol": 1e-6, "rtol": 0},
                        "cases": [{"args": {"image": {"random": {"shape": [6, 7, 3], "seed": 1}},
                                            "filter": {"kernel": {"name": "identity",
                                                                  "size": 3}}}}]}]}
    rubric, digest = Rubric.model_validate(data), rubric_hash(data)
    with submission.load(folder, rubric.modules) as loaded:
        (check,) = grading.grade(loaded, rubric, digest, prepare(rubric, digest)).checks
    assert check.status.value == "error"
    assert check.message == (
        "image 6×7×3, filter identity 3×3: importing your module failed: ImportError: cannot "
        "import name 'imread' from 'scipy.misc' (site-packages/scipy/misc/__init__.py) — "
        "scipy.misc.imread was removed in SciPy 1.3.0; no course environment runs it (SciPy 1.2, "
        "the last with it, needs Python 3.7 or older): use imageio.imread (or "
        "matplotlib.pyplot.imread)")
    assert 'File "student_code.py", line 1, in <module>' in check.details["traceback"]
    _assert_no_machine_path(check.message + check.details["traceback"], folder)
