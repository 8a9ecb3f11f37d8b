"""Exports parsed back and checked; Gradescope entry point and bundle; CI summary."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, run_grader

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)

RUBRIC = str(REPO / "tests" / "data" / "tiny_filtering.yaml")
EXAMPLES = REPO / "assignments" / "proj1_filtering" / "examples"
EXPECTED = {"alice_correct": 2.0, "bob_flipped_kernel": 1.0, "carol_incomplete": 2.0}


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "gradebook.sqlite"
    on_time = path.with_name("times.csv")
    on_time.write_text("student,submitted_at\n" + "".join(
        f"{s},2026-09-19T12:00:00+00:00\n" for s in EXPECTED))
    proc = run_grader("grade", RUBRIC, str(EXAMPLES), "--db", str(path), "--workers", "1",
                      "--submitted-at", str(on_time))
    assert proc.returncode == 0, proc.stderr
    return path


def _export(db: Path, fmt: str, out: Path, *extra: str) -> Path:
    proc = run_grader("export", "--db", str(db), "--format", fmt, "--out", str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    return out


def test_canvas_csv(db, tmp_path):
    rows = list(csv.reader(_export(db, "canvas", tmp_path / "canvas.csv").open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "tiny_filtering"]
    assert rows[1][0] == "Points Possible" and rows[1][5] == "2"
    assert {r[3]: float(r[5]) for r in rows[2:]} == EXPECTED


def test_plain_csv_has_a_column_per_check(db, tmp_path):
    rows = list(csv.DictReader(_export(db, "csv", tmp_path / "plain.csv").open()))
    bob = next(r for r in rows if r["student"] == "bob_flipped_kernel")
    assert (bob["identity"], bob["asymmetric"], bob["score"], bob["max_score"]) == ("1", "0", "1", "2")


def test_json_round_trips(db, tmp_path):
    data = json.loads(_export(db, "json", tmp_path / "all.json").read_text())
    assert {r["student"]: r["score"] for r in data} == EXPECTED
    assert all("versions" in r and r["checks"] for r in data)


def test_junit_xml(db, tmp_path):
    root = ET.parse(_export(db, "junit", tmp_path / "junit.xml")).getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    bob = suites["tiny_filtering.bob_flipped_kernel"]
    assert (bob.get("tests"), bob.get("failures"), bob.get("errors")) == ("2", "1", "0")
    failing = [c for c in bob.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failing] == ["asymmetric"]
    assert "filter random 3×5: the output: max abs error" in failing[0].find("failure").get("message")


def test_gradescope_export_needs_one_student(db, tmp_path):
    proc = run_grader("export", "--db", str(db), "--format", "gradescope", "--out",
                      str(tmp_path / "r.json"))
    assert proc.returncode == 2 and "add --student NAME" in proc.stderr
    data = json.loads(_export(db, "gradescope", tmp_path / "r.json", "--student",
                              "bob_flipped_kernel").read_text())
    _assert_gradescope_schema(data)
    assert data["score"] == 1.0


def _assert_gradescope_schema(data: dict) -> None:
    assert {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"} <= data.keys()
    for test in data["tests"]:
        assert {"name", "number", "score", "max_score", "status", "output", "visibility",
                "tags"} <= test.keys()
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")


def test_gradescope_run_in_a_fake_autograder_tree(tmp_path):
    autograder = tmp_path / "autograder"
    (autograder / "submission").mkdir(parents=True)
    (autograder / "submission" / "student_code.py").write_text(
        (EXAMPLES / "bob_flipped_kernel" / "student_code.py").read_text())
    results = autograder / "results" / "results.json"
    proc = run_grader("gradescope", "proj1_filtering", "--submission",
                      str(autograder / "submission"), "--results", str(results))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(results.read_text())
    _assert_gradescope_schema(data)
    by_name = {t["name"]: t for t in data["tests"]}
    hidden = [t for t in data["tests"] if t["visibility"] == "after_published"]
    assert hidden and all("hidden" not in t["name"] or t["visibility"] != "visible" for t in data["tests"])
    correlation = next(t for n, t in by_name.items() if "asymmetric kernels" in n)
    assert correlation["status"] == "failed" and correlation["score"] == 0
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def test_package_gradescope_bundle(tmp_path):
    out = tmp_path / "autograder.zip"
    proc = run_grader("package-gradescope", "proj1_filtering", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        assert {"setup.sh", "run_autograder", "grader_bundle/kit.json",
                "grader_bundle/arrays.npz"} <= set(names)
        assert not [n for n in names if n.endswith((".yaml", ".py"))]  # data, no answer key
        wheel = next(n for n in names if n.endswith(".whl"))
        assert bundle.getinfo("run_autograder").external_attr >> 16 & 0o111
        assert "gradescope --bundle" in bundle.read("run_autograder").decode()
        assert wheel in bundle.read("setup.sh").decode()
        manifest = json.loads(bundle.read("grader_bundle/kit.json"))
    hidden = [c for c in manifest["rubric"]["checks"] if c.get("visibility") == "hidden"]
    assert hidden and all(manifest["checks"][c["id"]]["cases"] for c in hidden)


def test_check_ci_writes_markdown_summary_and_junit(tmp_path):
    summary, junit = tmp_path / "summary.md", tmp_path / "junit.xml"
    proc = run_grader("check", RUBRIC, str(EXAMPLES / "bob_flipped_kernel"), "--ci", "--junit",
                      str(junit), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 1
    text = summary.read_text()
    assert text.startswith("## tiny_filtering — bob_flipped_kernel: 1/2")
    assert "| `asymmetric` | ❌ failed | 0/1 |" in text and text in proc.stdout + "\n"
    assert ET.parse(junit).getroot().tag == "testsuites"
