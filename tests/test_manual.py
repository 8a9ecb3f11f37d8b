"""Manual items: declared in the rubric, graded by a person on the staff application, held from
students and exports until published, kept across regrades, never a lost update."""

from __future__ import annotations

import csv
import html
import re
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import run_grader
from grader.errors import GraderError, RubricError
from grader.export import FORMATS
from grader.rubric.load import load_rubric
from grader.store.gradebook import Gradebook
from grader.store.manual import ManualGrade
from test_web import graded, sign_in, csrf_of

ITEM = {"id": "hybrid_quality", "name": "the hybrid works at both distances", "points": 5.0,
        "levels": [{"points": 5.0, "label": "convincing"}, {"points": 2.0, "label": "one distance"},
                   {"points": 0.0, "label": "not a hybrid"}],
        "show": ["check:identity", "file:*.png", "file:*.pdf", "file:*.svg", "code:student_code"]}
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>window.__pwned=1</script></svg>'


def with_item(student: str, identity: float):
    return replace(graded(student, identity), manual=[ITEM], files={
        "hybrid.png": PNG, "report.pdf": b"%PDF-1.4 ...", "evil.svg": SVG,
        "student_code.py": b"def my_imfilter(image, filter):\n    return image\n"})


@pytest.fixture
def book_path(tmp_path: Path) -> Path:
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as book:
        for student, points in (("ann", 0.0), ("bob", 2.0), ("cat", 2.0)):
            book.record(with_item(student, points))
    return path


def grade(book: Gradebook, student: str, points: float | None, by: str = "ta1",
          seen: int | None = None) -> int:
    return book.add_manual_grade(ManualGrade(student, "proj1_filtering", "hybrid_quality", points,
                                             "", "", by, "2026-10-05T10:00:00"), seen)


# --- the rubric ---------------------------------------------------------------------------

RUBRIC = """assignment: toy
reference: reference.filtering
checks:
  - id: identity
    name: identity
    kind: numeric
    target: student_code:my_imfilter
    points: 1
    cases: [{args: {image: {random: {shape: [4, 4, 3], seed: 1}}, filter: {kernel: {name: identity, size: 3}}}}]
manual:
  - id: quality
    name: quality
    points: 5
    levels: [{points: LEVEL, label: fine}]
    show: [SHOW]
"""


@pytest.mark.parametrize("level, show, sentence", [
    ("6", "check:identity", "line 14, manual[0].levels[0].points: a level gives 6, more than the item's 5"),
    ("5", "picture:x", "line 15, manual[0].show[0]: show 'picture:x': write check:ID, file:GLOB or code:MODULE"),
    ("5", "check:nosuch", "show check:nosuch: the rubric has no such check"),
])
def test_a_wrong_manual_item_is_one_sentence_with_its_line(tmp_path, level, show, sentence):
    path = tmp_path / "rubric.yaml"
    path.write_text(RUBRIC.replace("LEVEL", level).replace("SHOW", show))
    with pytest.raises(RubricError, match=re.escape(sentence)):
        load_rubric(path)


# --- the store: held, published, kept, never lost ----------------------------------------

def test_manual_grades_are_held_until_published(book_path):
    with Gradebook(book_path) as book:
        grade(book, "ann", 2.0)
        staff_view = {c.id: c for c in book.effective_of("ann", "proj1_filtering", staff=True).checks}
        assert staff_view["hybrid_quality"].score == 2.0 and staff_view["hybrid_quality"].max_score == 5
        assert {c.id: c.message for c in book.effective_of("bob", "proj1_filtering",
                                                            staff=True).checks}["hybrid_quality"] == "not graded yet"
        held = book.effective_of("ann", "proj1_filtering")
        assert "hybrid_quality" not in {c.id for c in held.checks} and held.max_score == 5
        assert "will count once they are published" in held.notes[-1]
        book.publish("proj1_filtering", "prof", "2026-10-06T09:00:00")
        assert book.effective_of("ann", "proj1_filtering").score == 3.0 + 2.0
        assert book.effective_of("ann", "proj1_filtering").max_score == 10


def test_a_regrade_and_an_override_keep_the_manual_grade(book_path):
    with Gradebook(book_path) as book:
        grade(book, "ann", 4.0)
        book.publish("proj1_filtering", "prof", "2026-10-06T09:00:00")
        book.record(replace(with_item("ann", 2.0), content_hash="second-version"))  # a regrade
        checks = {c.id: c for c in book.effective_of("ann", "proj1_filtering").checks}
        assert checks["hybrid_quality"].score == 4.0 and checks["identity"].score == 2.0
    run = run_grader("override", "ann", "hybrid_quality", "--score", "5", "--reason", "regrade",
                     "--db", str(book_path))
    assert run.returncode == 0, run.stdout + run.stderr
    with Gradebook(book_path) as book:
        line = {c.id: c for c in book.effective_of("ann", "proj1_filtering").checks}["hybrid_quality"]
        assert line.score == 5.0 and line.override["autograded_score"] == 4.0


def test_a_second_grader_is_told_who_graded_meanwhile(book_path):
    with Gradebook(book_path) as book:
        seen = book.manual_versions("ann", "proj1_filtering").get("hybrid_quality")
        first = grade(book, "ann", 5.0, by="ta1", seen=seen)
        with pytest.raises(GraderError, match="ta1 graded hybrid_quality of ann at 2026-10-05T10:00, "
                                              "after you opened it"):
            grade(book, "ann", 0.0, by="ta2", seen=seen)
        grade(book, "ann", 4.0, by="ta2", seen=first)  # after a reload it is theirs to change
        assert book.manual_grades("ann", "proj1_filtering")["hybrid_quality"].points == 4.0


def test_exports_carry_manual_points_once_published(book_path, tmp_path):
    out = tmp_path / "grades.csv"
    with Gradebook(book_path) as book:
        grade(book, "ann", 2.0)
        FORMATS["csv"](book.effective("proj1_filtering"), out)
        before = {r["student"]: r for r in csv.DictReader(out.open())}
        book.publish("proj1_filtering", "prof", "2026-10-06T09:00:00")
        FORMATS["csv"](book.effective("proj1_filtering"), out)
        after = {r["student"]: r for r in csv.DictReader(out.open())}
    assert float(before["ann"]["score"]) == 3.0 and float(after["ann"]["score"]) == 5.0


# --- the staff application ----------------------------------------------------------------

@pytest.fixture
def app(book_path):
    from grader.web.app import create_app

    return create_app(book_path)


def test_the_grading_page_shows_what_the_item_names(app, book_path):
    client = sign_in(app, book_path, "ta1", "ta")
    page = client.get("/grade/proj1_filtering/hybrid_quality/ann").get_data(as_text=True)
    assert "identity kernel" in page and "max abs error 0.9" in page  # check:identity
    assert 'src="/files/proj1_filtering/ann/2"' in page  # hybrid.png, an image, inline
    assert "report.pdf</a> (download)" in page and "evil.svg</a> (download)" in page
    assert "def my_imfilter(image, filter):" in html.unescape(page)  # code:student_code
    assert '<script src="/static/grading.js"></script>' in page
    assert page.count('class="level"') == 3 and 'data-key="1"' in page


def test_saving_a_level_moves_to_the_next_submission_not_graded(app, book_path):
    client = sign_in(app, book_path, "ta1", "ta")
    url = "/grade/proj1_filtering/hybrid_quality/ann"
    response = client.post(url, data={"csrf": csrf_of(client, url), "level": "1", "seen": "",
                                      "comment": "the low-pass is too weak"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/grade/proj1_filtering/hybrid_quality/bob"
    with Gradebook(book_path) as book:
        saved = book.manual_grades("ann", "proj1_filtering")["hybrid_quality"]
    assert (saved.points, saved.level, saved.comment, saved.by) == (
        2.0, "one distance", "the low-pass is too weak", "ta1")


def test_a_stale_page_is_told_who_saved_first(app, book_path):
    first, second = sign_in(app, book_path, "ta1", "ta"), sign_in(app, book_path, "ta2", "ta")
    url = "/grade/proj1_filtering/hybrid_quality/ann"
    token_1, token_2 = csrf_of(first, url), csrf_of(second, url)  # both pages open
    assert first.post(url, data={"csrf": token_1, "level": "0", "seen": ""}).status_code == 302
    late = second.post(url, data={"csrf": token_2, "level": "2", "seen": ""})
    assert late.status_code == 409
    assert "ta1 graded hybrid_quality of ann" in html.unescape(late.get_data(as_text=True))
    with Gradebook(book_path) as book:
        assert book.manual_grades("ann", "proj1_filtering")["hybrid_quality"].points == 5.0


@pytest.mark.parametrize("number, kind, attachment", [  # the files, numbered in name order
    (2, "image/png", None), (3, "application/octet-stream", 'attachment; filename="report.pdf"'),
    (1, "application/octet-stream", 'attachment; filename="evil.svg"'),
    (4, "application/octet-stream", 'attachment; filename="student_code.py"')])
def test_a_submissions_files_never_run_as_pages_of_the_site(app, book_path, number, kind,
                                                             attachment):
    client = sign_in(app, book_path)
    response = client.get(f"/files/proj1_filtering/ann/{number}")
    assert response.status_code == 200 and response.headers["Content-Type"] == kind
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers.get("Content-Disposition") == attachment
    assert client.get("/files/proj1_filtering/ann/0").status_code == 404
    assert client.get("/files/proj1_filtering/ann/5").status_code == 404
    assert app.test_client().get(f"/files/proj1_filtering/ann/{number}").status_code == 302


def test_only_an_instructor_publishes_and_not_by_accident(app, book_path):
    ta = sign_in(app, book_path, "ta1", "ta")
    url = "/grade/proj1_filtering/publish"
    assert ta.post(url, data={"csrf": csrf_of(ta)}).status_code == 403
    prof = sign_in(app, book_path)
    refused = prof.post(url, data={"csrf": csrf_of(prof)})
    assert refused.status_code == 409 and "3 manual grade(s) of proj1_filtering are missing" in refused.get_data(as_text=True)
    assert prof.post(url, data={"csrf": csrf_of(prof), "partial": "1"}).status_code == 302
    with Gradebook(book_path) as book:
        assert book.published("proj1_filtering")[0] == "prof"


def test_the_files_an_item_shows_are_read_safely(tmp_path, monkeypatch):
    # a link out of the submission is never followed, and an oversize file is named, not kept
    from grader.intake import shown_files
    from grader.rubric.model import ManualItem

    root = tmp_path / "submission"
    (root / "report").mkdir(parents=True)
    (root / "report" / "writeup.pdf").write_bytes(b"%PDF-1.4")
    (root / "secret.png").symlink_to("/etc/passwd")
    (root / "huge.png").write_bytes(b"\0" * 2048)
    (root / "student_code.py").write_text("def f(): pass\n")
    monkeypatch.setattr(shown_files, "MAX_FILE_BYTES", 1024)
    item = ManualItem.model_validate({**ITEM, "show": ["file:*.pdf", "file:*.png",
                                                       "code:student_code"]})
    files, notes = shown_files.collect(root, {"student_code": root / "student_code.py"}, [item])
    assert sorted(files) == ["report/writeup.pdf", "student_code.py"]
    assert len(notes) == 1 and notes[0].startswith("huge.png (2 KiB) is not kept")
