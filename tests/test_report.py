"""Reports without grading: figures, statistics, escaping of everything a student controls."""

from __future__ import annotations

from dataclasses import replace

import base64
import re

import numpy as np
import pytest

from grader.report import render_markdown, render_reports
from grader.report.environment import md_code
from grader.report.summary import mask_numbers, score_stats, summarize
from grader.report.student import check_figures, student_view
from grader.results import CheckResult, Status, SubmissionResult

HOSTILE = '<script>console.error("pwned")</script><img src=x onerror="alert(1)">'


def _check(check_id: str, status: Status = Status.PASSED, score: float = 1.0, **kwargs) -> CheckResult:
    """A check result; judged by the ``numeric`` kind unless ``kind`` says otherwise."""
    return CheckResult(check_id, kwargs.pop("name", check_id), "f", status, score, 1.0,
                       kwargs.pop("message", "ok"), **{"kind": "numeric", **kwargs})


def _result(student: str, checks: list[CheckResult], **kwargs) -> SubmissionResult:
    return SubmissionResult(student, "c0ffee", "demo", "r1", checks, versions={"harness": "1"},
                            finished_at="2026-01-01T00:00:00", **kwargs)


def _png_sizes(html: str) -> list[int]:
    return [len(base64.b64decode(m)) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)]


def test_student_text_is_escaped_in_html_and_markdown(tmp_path):
    check = _check("c1", Status.ERROR, 0.0, name=HOSTILE, message=f"f raised ValueError: {HOSTILE}",
                   stdout=f"{HOSTILE}\n</pre></details>{HOSTILE}\n```\nbreakout\n",
                   details={"traceback": HOSTILE})
    result = _result(HOSTILE, [check], notes=[HOSTILE])
    files = render_reports([result], tmp_path)
    for path in files:
        text = path.read_text()
        if path.suffix == ".md":  # code blocks show text as it is; everything else is escaped
            text = re.sub(r"(?ms)^(`{3,})text$.*?^\1$", "", text)
        assert "<script" not in text and "<img src=x" not in text, path.name
        assert "&lt;script&gt;" in text, path.name
    page = next(p for p in files if p.suffix == ".html" and p.name != "index.html")
    assert page.name == "demo--script_console.error_pwned_script_img_src_x_onerror_alert_1.html"
    markdown = render_markdown(result)
    assert "&lt;script&gt;" in markdown
    # the captured output sits in a fence longer than any backtick run it holds
    assert "````text\n" in markdown and "\n````" in markdown


def test_what_hidden_checks_printed_reaches_the_instructor_not_the_student(tmp_path):
    """Code that prints its inputs would put a hidden case in the student's own report."""
    secret = "hidden kernel [[0.1, 0.7, 0.2]] of shape (97, 113, 3)"
    checks = [_check("h", Status.FAILED, 0.0, visibility="hidden", stdout=secret,
                     details={"traceback": f"ValueError: {secret}"}),
              _check("v", stdout="visible output")]
    result = _result("ann", checks)
    students = render_reports([result], tmp_path / "students")
    for path in students:
        assert secret not in path.read_text(), path.name
    page = next(p for p in students if p.suffix == ".html" and p.name != "index.html")
    assert "visible output" in page.read_text() and "not shown for hidden checks" in page.read_text()
    staff = render_reports([result], tmp_path / "staff", instructor=True)
    assert any(secret in p.read_text() for p in staff if p.suffix == ".html")


def test_pages_load_nothing_from_outside(tmp_path):
    arrays = {"c1": {"output": np.zeros((8, 8), np.float32), "expected": np.ones((8, 8), np.float32),
                     "label": np.array("out")}}
    result = _result("ann", [_check("c1", Status.FAILED, 0.0)])
    for path in render_reports([result], tmp_path, artifacts=lambda r: arrays):
        if path.suffix != ".html":
            continue
        text = path.read_text()
        links = re.findall(r'(?:src|href)="([^"]*)"', text)
        assert links and all(re.fullmatch(r"data:,|data:image/png;base64,.*|#[\w-]+|[\w.-]+\.html", link)
                             for link in links), links
        assert "Content-Security-Policy" in text


def test_md_code_fence_cannot_be_closed_by_the_text():
    assert md_code("a ``` b") == "````text\na ``` b\n````"
    assert md_code("plain") == "```text\nplain\n```"


def test_filtering_failure_shows_output_expected_and_error_map():
    rng = np.random.default_rng(0)
    output = rng.random((40, 50)).astype(np.float32)
    arrays = {"output": output, "expected": output[::-1].copy(), "label": np.array("filtered_image")}
    figures = check_figures(_check("f", Status.FAILED, 0.0), arrays)
    assert [p.title for p in figures[0].panels] == ["your filtered_image", "expected filtered_image",
                                                    "absolute error"]
    assert figures[0].panels[2].high == f"{np.abs(output - output[::-1]).max():.3g}"


def test_hidden_checks_never_show_expected_outputs_or_correctness():
    image = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    hidden = _check("h", Status.FAILED, 0.0, visibility="hidden")
    panels = check_figures(hidden, {"output": image, "expected": image, "label": np.array("x")})
    assert [p.title for p in panels[0].panels] == ["your x"]
    points = np.array([[1, 1], [5, 5]], np.float32)
    matches = check_figures(replace(hidden, kind="accuracy"), {"image_a": image, "image_b": image, "points_a": points,
                                     "points_b": points, "correct": np.array([True, False])})
    assert {line[4] for line in matches[0].lines} == {"unknown"}
    assert "not shown" in matches[0].caption


def test_matching_draws_correct_green_and_wrong_red_over_both_images():
    image = np.zeros((30, 40), np.float32)
    points = np.array([[1, 2], [3, 4], [5, 6]], np.float32)
    figure, = check_figures(_check("m", kind="accuracy"), {"image_a": image, "image_b": image, "points_a": points,
                                          "points_b": points, "correct": np.array([True, False, True])})
    assert (figure.width, figure.height) == (40 + 6 + 40, 30)
    assert sorted(line[4] for line in figure.lines) == ["right", "right", "wrong"]
    assert figure.lines[-1][2] == 5 + 46  # image B's points are shifted past image A and the gap
    assert "2 correct (green), 1 wrong (red)" in figure.caption


def test_confusion_matrix_and_gradient_chart_come_from_details():
    training = _check("t", kind="training", details={"confusion_matrix": [[8, 2], [0, 10]], "class_names": ["a", "b"]})
    table, = check_figures(training, {})
    assert table.labels == ["a", "b"] and table.recall == ["80%", "100%"]
    gradient = _check("g", Status.FAILED, 0.3, kind="gradient", details={"forward_rel_error": 0.0,
                                                        "rel_errors": {"dx": 1.0, "db": None},
                                                        "rel_error_threshold": 1e-8})
    chart, = check_figures(gradient, {})
    assert "dx 1" in chart.alt and "db n/a" in chart.alt and "threshold 1e-08" in chart.alt
    older = _check("o", Status.FAILED, 0.3, kind="gradient", details={"rel_errors": {"dx": 1.0}})
    assert "threshold not recorded" in check_figures(older, {})[0].alt  # thresholds were
    assert 1_000 < len(base64.b64decode(chart.uri.split(",")[1])) < 30_000


def test_student_page_shows_time_against_the_limit_and_compact_figures(tmp_path):
    image = np.clip(np.random.default_rng(1).normal(0.5, 0.2, (120, 160)), 0, 1).astype(np.float32)
    arrays = {"c1": {"output": image, "expected": image[:, ::-1].copy(), "label": np.array("out")}}
    result = _result("ann", [_check("c1", Status.FAILED, 0.0, duration_s=1.5, kind="numeric",
                                    limit_s=6.0)])
    render_reports([result], tmp_path, artifacts=lambda r: arrays)
    page = (tmp_path / "demo--ann.html").read_text()
    assert "time 1.50 s of the 6.00 s limit" in page and 'style="width: 25.0%"' in page
    sizes = _png_sizes(page)
    assert len(sizes) == 3 and all(1_000 < size < 40_000 for size in sizes), sizes


def test_a_student_sees_numbers_about_their_code_not_the_harness_bookkeeping():
    check = _check("c1", Status.FAILED, 0.0, details={"max_abs_error": 0.5}, calls_run=2,
                   calls_reused=1)
    (view,) = student_view(_result("ann", [check]), href="ann.html").checks
    assert view.numbers == [("max_abs_error", "0.5")]


def test_no_page_a_student_reads_prints_the_harness_bookkeeping(tmp_path):
    """Issue #31: "calls_run 2" was printed in every student's report."""
    check = _check("c1", Status.FAILED, 0.0, details={"max_abs_error": 0.5}, calls_run=2,
                   calls_reused=1)
    result = _result("ann", [check])
    render_reports([result], tmp_path)
    for page in (render_markdown(result), (tmp_path / "demo--ann.html").read_text()):
        assert "max_abs_error" in page
        assert "calls_run" not in page and "calls_reused" not in page


def test_summary_statistics_hardest_checks_and_common_failures():
    results = []
    for index, score in enumerate([0, 1, 2, 3]):
        checks = [_check("easy", Status.PASSED if score else Status.FAILED, float(bool(score)),
                         message=f"error {index}.5 at ({index}, 2)" if not score else "ok"),
                  _check("hard", Status.PASSED if score == 3 else Status.TIMEOUT, float(score == 3),
                         message="f took longer than 2 s (time limit)", duration_s=2.0 + index,
                         limit_s=2.0)]
        results.append(_result(f"s{index}", checks))
    views = [student_view(r, href=f"{r.student}.html") for r in results]
    summary, = summarize(views)
    assert [c.id for c in summary.checks] == ["hard", "easy"]
    hard = summary.checks[0]
    assert hard.pass_rate == 0.25 and hard.failures == [("f took longer than 2 s (time limit)", 3)]
    assert hard.limit_s == 2.0 and hard.timing["max"] == 5.0
    assert [t.view.result.student for t in summary.troubles] == ["s0", "s1", "s2"]
    assert summary.stats["median"] == 1.0  # scores 0, 1, 1, 2
    assert mask_numbers("max abs error 7.64 at (55, 43, 2); 1e-07") == "max abs error # at (#, #, #); #"


def test_score_stats_quartiles():
    stats = score_stats([1, 2, 3, 4, 5])
    assert (stats["q1"], stats["median"], stats["q3"], stats["mean"]) == (2, 3, 4, 3)
    assert score_stats([]) == {"count": 0}


@pytest.mark.parametrize("count", [1, 3])
def test_every_student_is_linked_from_the_summary(tmp_path, count):
    results = [_result(f"student {i}", [_check("c")]) for i in range(count)]
    render_reports(results, tmp_path)
    index = (tmp_path / "index.html").read_text()
    for i in range(count):
        assert f'href="demo--student_{i}.html"' in index
        assert (tmp_path / f"demo--student_{i}.md").is_file()


def test_each_kind_draws_its_own_figures_and_older_results_are_read_off_their_artifacts():
    image = np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(48, 64)
    arrays = {"output": image, "expected": image, "label": np.array("out")}
    numeric = _check("n", Status.FAILED, 0.0, kind="numeric")
    assert [type(f).__name__ for f in check_figures(numeric, arrays)] == ["ImagePanels"]
    assert check_figures(_check("t", kind="timing"), arrays) == []  # the kind draws nothing
    older = _check("o", Status.FAILED, 0.0)  # recorded before results named their kind
    assert [type(f).__name__ for f in check_figures(older, arrays)] == ["ImagePanels"]
    gradient = _check("g", Status.FAILED, 0.3, kind="gradient",
                      details={"forward_rel_error": 0.0, "rel_errors": {"dx": 1.0},
                               "rel_error_threshold": 1e-7})
    assert [type(f).__name__ for f in check_figures(gradient, {})] == ["Chart"]
