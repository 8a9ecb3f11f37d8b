"""TA queues and anonymous grading: splits that are balanced and never break a conflict, and a
TA under anonymity who neither sees a student's id nor opens another grader's submission."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.store.gradebook import Gradebook
from grader.store.queues import Queues
from test_manual import with_item
from test_web import csrf_of, sign_in

STUDENTS = [f"s{i:02d}" for i in range(10)]


@pytest.fixture
def book_path(tmp_path: Path) -> Path:
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as book:
        for student in STUDENTS:
            book.record(with_item(student, 2.0))
    return path


def test_a_random_split_is_balanced_and_never_breaks_a_conflict(book_path):
    with Queues(book_path) as queues:
        queues.add_conflict("ta1", "s03")
        queues.add_conflict("ta1", "s07")
        given = queues.split("a", "item", STUDENTS, ["ta1", "ta2", "ta3"], by="prof", seed=4)
        again = queues.split("a", "item", STUDENTS, ["ta1", "ta2", "ta3"], by="prof", seed=4)
        assert given == again == queues.graders("a", "item")  # seeded, and stored
    assert given["s03"] != "ta1" and given["s07"] != "ta1"
    loads = Counter(given.values())
    assert sorted(loads) == ["ta1", "ta2", "ta3"] and max(loads.values()) - min(loads.values()) <= 1


def test_a_split_by_section_follows_the_roster_except_for_a_conflict(book_path):
    with Queues(book_path) as queues:
        queues.set_sections({s: ("A" if int(s[1:]) < 5 else "B") for s in STUDENTS})
        queues.add_conflict("ta1", "s02")
        given = queues.split("a", "item", STUDENTS, ["ta1", "ta2"], by="prof", how="section",
                             sections_of={"ta1": ["A"], "ta2": ["B"]})
    assert {s for s, g in given.items() if g == "ta1"} == {"s00", "s01", "s03", "s04"}
    assert given["s02"] == "ta2"


def test_a_split_or_a_gift_that_would_break_a_conflict_is_refused(book_path):
    with Queues(book_path) as queues:
        queues.add_conflict("ta1", "s00")
        with pytest.raises(GraderError, match="every grader chosen has a conflict with s00"):
            queues.split("a", "item", STUDENTS, ["ta1"], by="prof")
        with pytest.raises(GraderError, match="ta1 has a conflict with s00"):
            queues.give("a", "item", "s00", "ta1", by="prof")


def test_pseudonyms_are_stable_per_assignment_and_new_after_a_lift(book_path):
    with Queues(book_path) as queues:
        assert queues.pseudonym("a", "s00") == "s00"  # not anonymous: the id
        queues.set_anonymous("a", True, by="prof")
        queues.set_anonymous("b", True, by="prof")
        first = queues.pseudonym("a", "s00")
        assert first.startswith("anon-") and first == queues.pseudonym("a", "s00")
        assert first != queues.pseudonym("b", "s00") and first != queues.pseudonym("a", "s01")
        queues.set_anonymous("a", False, by="prof")
        queues.set_anonymous("a", True, by="prof")
        assert queues.pseudonym("a", "s00") != first


# --- in the application -------------------------------------------------------------------

@pytest.fixture
def app(book_path):
    from grader.web.app import create_app

    return create_app(book_path)


def _split_anonymously(app, book_path):
    prof = sign_in(app, book_path)
    ta1, ta2 = sign_in(app, book_path, "ta1", "ta"), sign_in(app, book_path, "ta2", "ta")
    with Queues(book_path) as queues:
        queues.add_conflict("ta1", "s00")
    token = csrf_of(prof)
    assert prof.post("/grade/proj1_filtering/split", data={
        "csrf": token, "item": "hybrid_quality", "grader": ["ta1", "ta2"],
        "how": "random"}).status_code == 302
    assert prof.post("/grade/proj1_filtering/anonymity", data={
        "csrf": token, "anonymous": "1"}).status_code == 302
    with Queues(book_path) as queues:
        given = queues.graders("proj1_filtering", "hybrid_quality")
        names = {s: queues.pseudonym("proj1_filtering", s) for s in STUDENTS}
    return prof, ta1, ta2, given, names


def test_a_ta_under_anonymity_sees_no_id_and_only_their_queue(app, book_path):
    prof, ta1, ta2, given, names = _split_anonymously(app, book_path)
    assert given["s00"] == "ta2" and sorted(Counter(given.values()).values()) == [5, 5]
    mine = [s for s in STUDENTS if given[s] == "ta1"]
    theirs = [s for s in STUDENTS if given[s] == "ta2"]
    pages = [ta1.get("/").get_data(as_text=True),
             ta1.get("/grade/proj1_filtering").get_data(as_text=True),
             ta1.get(f"/grade/proj1_filtering/hybrid_quality/{names[mine[0]]}").get_data(as_text=True)]
    for page in pages:
        assert not re.search(r"\bs\d\d\b", page), "a student id reached a TA's page"
    assert "5 of 5" in pages[1] or "0 of 5" in pages[1]
    assert names[mine[0]] in pages[2]
    assert ta1.get(f"/grade/proj1_filtering/hybrid_quality/{names[theirs[0]]}").status_code == 403
    assert ta1.get(f"/grade/proj1_filtering/hybrid_quality/{mine[0]}").status_code == 404  # ids fail
    assert ta1.get(f"/students/proj1_filtering/{mine[0]}").status_code == 403
    assert ta1.get(f"/files/proj1_filtering/{names[theirs[0]]}/1").status_code == 403
    download = ta1.get(f"/files/proj1_filtering/{names[mine[0]]}/3")
    assert download.headers["Content-Disposition"] == 'attachment; filename="file3.pdf"'
    instructor = prof.get("/grade/proj1_filtering/hybrid_quality/s00").get_data(as_text=True)
    assert ">s00<" in instructor  # instructors always see who


def test_a_ta_cannot_save_a_grade_in_another_queue(app, book_path):
    prof, ta1, ta2, given, names = _split_anonymously(app, book_path)
    theirs = next(s for s in STUDENTS if given[s] == "ta2")
    url = f"/grade/proj1_filtering/hybrid_quality/{names[theirs]}"
    assert ta1.post(url, data={"csrf": csrf_of(ta1), "level": "0", "seen": ""}).status_code == 403
    with Gradebook(book_path) as book:
        assert book.manual_grades(theirs, "proj1_filtering") == {}


def test_saving_moves_to_the_next_in_the_graders_own_queue(app, book_path):
    prof, ta1, ta2, given, names = _split_anonymously(app, book_path)
    mine = [s for s in STUDENTS if given[s] == "ta1"]
    url = f"/grade/proj1_filtering/hybrid_quality/{names[mine[0]]}"
    response = ta1.post(url, data={"csrf": csrf_of(ta1), "level": "0", "seen": ""})
    assert response.headers["Location"] == f"/grade/proj1_filtering/hybrid_quality/{names[mine[1]]}"


def test_the_instructor_splits_by_section_from_the_page(app, book_path):
    with Queues(book_path) as queues:
        queues.set_sections({s: ("A" if int(s[1:]) < 3 else "B") for s in STUDENTS})
    prof = sign_in(app, book_path)
    sign_in(app, book_path, "ta1", "ta")
    sign_in(app, book_path, "ta2", "ta")
    assert prof.post("/grade/proj1_filtering/split", data={
        "csrf": csrf_of(prof), "item": "hybrid_quality", "grader": ["ta1", "ta2"],
        "how": "section", "sections-ta1": "A", "sections-ta2": "B"}).status_code == 302
    with Queues(book_path) as queues:
        given = queues.graders("proj1_filtering", "hybrid_quality")
    assert {s for s, g in given.items() if g == "ta1"} == {"s00", "s01", "s02"}
    page = prof.get("/grade/proj1_filtering").get_data(as_text=True)
    assert "ta1 3 · ta2 7" in page


def test_an_instructor_gives_one_submission_by_hand_but_never_to_a_conflict(app, book_path):
    prof = sign_in(app, book_path)
    sign_in(app, book_path, "ta1", "ta")
    with Queues(book_path) as queues:
        queues.add_conflict("ta1", "s01")
    token = csrf_of(prof)
    form = {"csrf": token, "item": "hybrid_quality", "grader": "ta1"}
    assert prof.post("/grade/proj1_filtering/give", data={**form, "student": "s00"}).status_code == 302
    refused = prof.post("/grade/proj1_filtering/give", data={**form, "student": "s01"})
    assert refused.status_code == 400 and "ta1 has a conflict with s01" in refused.get_data(as_text=True)
    assert prof.post("/grade/proj1_filtering/give", data={**form, "student": "nobody"}).status_code == 400
    with Queues(book_path) as queues:
        assert queues.graders("proj1_filtering", "hybrid_quality") == {"s00": "ta1"}
