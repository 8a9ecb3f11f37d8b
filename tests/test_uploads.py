"""The uploads store: kept by content, a queue fair across students, nothing lost to kill -9
(grader/store/uploads.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from grader.errors import GraderError
from grader.store.uploads import MAX_ATTEMPTS, Uploads


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0  # every reading a second later: receive times are all different
        return self.now


@pytest.fixture
def uploads(tmp_path):
    with Uploads(tmp_path / "book.sqlite", Clock()) as opened:
        yield opened


def test_an_upload_is_kept_once_by_content_with_the_servers_time(uploads):
    first = uploads.receive("ada", "proj1", "student_code.py", b"def f(): pass\n")
    again = uploads.receive("bob", "proj1", "mine.py", b"def f(): pass\n")
    assert first.sha256 == again.sha256 and uploads.file(first.sha256).read_bytes() == b"def f(): pass\n"
    assert len(list(uploads.folder.rglob("*"))) == 2  # one folder, one file
    assert first.received_at == "2027-01-15T08:00:01+00:00" and first.state == "queued"
    assert (first.name, first.size) == ("student_code.py", 14)


def test_a_newer_upload_replaces_the_waiting_one(uploads):
    old = uploads.receive("ada", "proj1", "a.py", b"1")
    other = uploads.receive("ada", "proj2", "a.py", b"2")  # another assignment: both wait
    new = uploads.receive("ada", "proj1", "a.py", b"3")
    assert [u.state for u in uploads.of("ada")] == ["queued", "queued", "replaced"]
    assert uploads.get(old.id).state == "replaced" and uploads.get(other.id).state == "queued"
    assert uploads.claim().id == other.id and uploads.claim().id == new.id
    assert uploads.claim() is None


def test_the_queue_is_round_robin_by_student(uploads):
    """ada floods the queue before bob and cim upload: each of them waits at most one grading
    behind her, and her resubmissions wait behind everyone served less recently."""
    for n in range(10):
        uploads.receive("ada", "proj1", "a.py", f"{n}".encode())
    uploads.receive("bob", "proj1", "b.py", b"b")
    first = uploads.claim()
    assert first.student == "ada"
    uploads.finish(first.id, 1, 2)
    uploads.receive("ada", "proj1", "a.py", b"11")  # while bob waits
    uploads.receive("cim", "proj1", "c.py", b"c")
    assert [uploads.claim().student for _ in range(3)] == ["bob", "cim", "ada"]


def test_place_and_eta_follow_the_fair_order(uploads):
    for student in ("ada", "bob", "cim"):
        uploads.receive(student, "proj1", "x.py", student.encode())
    assert uploads.place(uploads.of("cim")[0].id).ahead == 2
    assert uploads.place(uploads.of("cim")[0].id).eta_s is None  # nothing graded yet
    claimed = uploads.claim()
    uploads.finish(claimed.id, 2, 2)  # the clock says it took 1 s
    place = uploads.place(uploads.of("cim")[0].id, graders=1)
    assert (place.ahead, place.eta_s) == (1, 2.0)
    assert uploads.place(claimed.id) is None  # not waiting


def test_a_student_over_the_hourly_limit_is_told_when_to_come_back(tmp_path):
    clock = Clock()
    with Uploads(tmp_path / "book.sqlite", clock) as uploads:
        for n in range(3):
            uploads.receive("ada", "proj1", "a.py", f"{n}".encode(), per_hour=3)
        with pytest.raises(GraderError, match=r"uploaded proj1 3 times in the last hour.*"
                                              r"try again in 60 min"):
            uploads.receive("ada", "proj1", "a.py", b"4", per_hour=3)
        uploads.receive("bob", "proj1", "b.py", b"b", per_hour=3)  # others are not counted
        clock.now += 3600
        uploads.receive("ada", "proj1", "a.py", b"5", per_hour=3)


def test_each_upload_is_claimed_once_by_graders_in_parallel(tmp_path):
    db = tmp_path / "book.sqlite"
    with Uploads(db) as uploads:
        for n in range(40):
            uploads.receive(f"s{n:02d}", "proj1", "a.py", f"{n}".encode())
    claimed: list[int] = []

    def grader() -> None:
        with Uploads(db) as mine:
            while (upload := mine.claim()) is not None:
                claimed.append(upload.id)

    threads = [threading.Thread(target=grader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == list(range(1, 41))


def test_a_lost_grading_is_queued_again_then_failed(uploads):
    upload = uploads.receive("ada", "proj1", "a.py", b"1")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert uploads.claim().attempts == attempt
        assert uploads.recover() == 1
    assert uploads.get(upload.id).state == "failed"
    assert "stopped while grading it, 3 times" in uploads.get(upload.id).message
    # once what failed the grader is fixed, an instructor queues it again (grader staff requeue)
    assert uploads.requeue_failed("proj2") == 0 and uploads.requeue_failed("proj1") == 1
    again = uploads.claim()
    assert (again.id, again.attempts, again.message) == (upload.id, 1, "")


KILLED_SERVER = textwrap.dedent('''
    import os, signal, sys
    from grader.store.uploads import Uploads
    with Uploads(sys.argv[1]) as uploads:
        for n in range(25):
            uploads.receive(f"s{n:02d}", "proj1", "a.py", os.urandom(1000))
        uploads.claim()
        os.kill(os.getpid(), signal.SIGKILL)  # in the middle of a grading
''')


def test_kill_9_loses_no_upload_and_the_one_in_flight_is_graded_again(tmp_path):
    db = tmp_path / "book.sqlite"
    server = subprocess.run([sys.executable, "-c", KILLED_SERVER, str(db)])
    assert server.returncode == -signal.SIGKILL
    with Uploads(db) as uploads:
        assert uploads.recover() == 1
        kept = [uploads.of(f"s{n:02d}")[0] for n in range(25)]
        assert all(u.state == "queued" for u in kept)
        assert all(len(uploads.file(u.sha256).read_bytes()) == 1000 for u in kept)
        assert uploads.claim().student == "s00"  # the lost one first: its student waited longest
