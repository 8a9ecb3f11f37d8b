"""Course rules read from the source: forbidden library calls and removed numpy aliases."""

from __future__ import annotations

import json
import textwrap

import pytest

from conftest import run_grader
from grader import grading
from grader.rubric.assignments import rubric_path
from grader.results import CheckResult, Status
from grader.rubric.load import load_rubric
from grader.intake.source_rules import forbidden_calls, removed_numpy_aliases, unreadable

PATTERNS = ["cv2.filter2D", "scipy.ndimage.*", "scipy.signal.*"]


@pytest.mark.parametrize("source, found", [
    ("import cv2\ndef my_imfilter(i, f):\n    return cv2.filter2D(i, -1, f)\n", ["cv2.filter2D"]),
    ("import cv2 as cv\ndef my_imfilter(i, f):\n    return cv.filter2D(i, -1, f)\n", ["cv2.filter2D"]),
    ("from cv2 import filter2D as f2d\ndef my_imfilter(i, f):\n    return f2d(i, -1, f)\n", ["cv2.filter2D"]),
    ("from scipy import ndimage\ndef my_imfilter(i, f):\n    return ndimage.correlate(i, f)\n", ["scipy.ndimage.correlate"]),
    ("import scipy.signal as sg\ndef my_imfilter(i, f):\n    return sg.convolve2d(i, f)\n", ["scipy.signal.convolve2d"]),
    ("from scipy.ndimage import convolve\ndef helper(i, f):\n    return convolve(i, f)\n"
     "def my_imfilter(i, f):\n    return helper(i, f)\n", ["scipy.ndimage.convolve"]),
    ("import cv2\ndef other(i, f):\n    return cv2.filter2D(i, -1, f)\n"
     "def my_imfilter(i, f):\n    return i\n", []),
    ("import numpy as np\ndef my_imfilter(i, f):\n    return np.convolve(i, f)\n", []),
    ("def my_imfilter(i, f:\n", []),
])
def test_forbidden_calls_are_resolved_through_imports(source, found):
    assert sorted({s.name for s in forbidden_calls(source, "my_imfilter", PATTERNS)}) == found


def test_removed_numpy_aliases_are_listed_with_lines():
    source = "import numpy as np\nx = np.float(1)\ny = np.asscalar(np.ones(1))\nz = np.float64(1)\n"
    assert [(s.name, s.line) for s in removed_numpy_aliases(source)] == [
        ("numpy.float", 2), ("numpy.asscalar", 3)]


@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_library_filtering_costs_the_points_of_my_imfilter_only(tmp_path):
    code = textwrap.dedent("""
        import numpy as np
        import cv2

        def my_imfilter(image, filter):
            return cv2.filter2D(image, -1, filter, borderType=cv2.BORDER_REFLECT_101)

        def create_hybrid_image(image1, image2, filter):
            low = my_imfilter(image1, filter)
            high = image2 - my_imfilter(image2, filter)
            return low, high, np.clip(low + high, 0, 1)
        """)
    (tmp_path / "dave").mkdir()
    (tmp_path / "dave" / "student_code.py").write_text(code)
    out = tmp_path / "r.json"
    proc = run_grader("grade", "proj1_filtering", str(tmp_path / "dave"), "--db",
                      str(tmp_path / "db.sqlite"), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    (dave,) = json.loads(out.read_text())
    for check in dave["checks"]:
        if check["status"] == "skipped":
            continue
        if check["target"] == "my_imfilter":
            assert check["score"] == 0 and check["status"] == "failed"
            assert "cv2.filter2D (line 6)" in check["message"]
            assert check["details"]["forbidden_calls"] == [{"name": "cv2.filter2D", "line": 6}]
        else:  # the hybrid itself is right, and the rule is about my_imfilter
            assert check["status"] == "passed" and check["score"] == check["max_score"]


def test_removed_alias_is_graded_on_its_merits_and_noted(tmp_path):
    code = ("import numpy as np\n"
            "def my_imfilter(image, filter):\n"
            "    scale = np.asscalar(np.ones(1))\n"
            "    return image * np.float(scale)\n")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "student_code.py").write_text(code)
    out = tmp_path / "r.json"
    proc = run_grader("check", "proj1_filtering", str(tmp_path / "old"), "--only",
                      "imfilter_identity", "--json", str(out))
    assert proc.returncode == 0, proc.stdout
    result = json.loads(out.read_text())
    assert result["checks"][0]["status"] == "passed"
    assert any("np.asscalar (line 3)" in n and "np.float (line 4)" in n for n in result["notes"])


# a sum of 100 000 terms and 200 000 minus signs: ast.parse raises RecursionError for the first
# and MemoryError for the second (the parser's own depth guard); CPython imports neither either
TOO_DEEP = ["def my_imfilter(i, f):\n    return " + "+".join(["i"] * 100_000) + "\n",
            "def my_imfilter(i, f):\n    return " + "-" * 200_000 + "i\n"]


@pytest.mark.parametrize("source", TOO_DEEP, ids=["recursion", "memory"])
def test_a_source_too_deep_for_the_parser_is_unreadable_not_a_crash(source):
    assert forbidden_calls(source, "my_imfilter", PATTERNS) == []
    assert removed_numpy_aliases(source) == []
    assert unreadable(source) == "it is nested too deeply for the parser"
    assert unreadable("import cv2\n") is None


def test_an_unreadable_source_keeps_its_points_with_a_note_for_the_ta():
    rubric, _ = load_rubric(rubric_path("proj1_filtering"))
    (rule,) = [r for r in rubric.forbidden_calls if r.function == "my_imfilter"]
    check = next(c for c in rubric.checks if c.function == rule.function)
    passed = CheckResult(check.id, check.name, check.function, Status.PASSED, check.points,
                         check.points, "every case matches")
    (result,) = grading._apply_source_rules([passed], {check.module: TOO_DEEP[0]}, rubric)
    assert result.score == check.points and result.status == Status.PASSED
    assert result.message == (
        "every case matches; the scan for calls the course forbids could not read "
        "student_code.py (it is nested too deeply for the parser); a TA should check "
        "my_imfilter by hand")
    assert result.details["source_scan"] == (
        "student_code.py: it is nested too deeply for the parser")
