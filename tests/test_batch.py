"""Batch grading: local pool, Dask LocalCluster, SIGKILL resume, regrade, late policy."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, run_grader
from grader.store import late
from grader.rubric.load import LatePolicy

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)

RUBRIC = str(REPO / "tests" / "data" / "tiny_filtering.yaml")
CORRECT = (REPO / "assignments/proj1_filtering/examples/alice_correct/student_code.py").read_text()
FLIPPED = (REPO / "assignments/proj1_filtering/examples/bob_flipped_kernel/student_code.py").read_text()


def _make_batch(folder: Path, count: int, slow_s: float = 0.0) -> Path:
    """``count`` submissions alternating correct/flipped, each made distinct by a comment."""
    for index in range(count):
        code = CORRECT if index % 2 == 0 else FLIPPED
        if slow_s:
            code = code.replace("def my_imfilter(image, filter):",
                                f"import time\ndef my_imfilter(image, filter):\n    time.sleep({slow_s})")
        (folder / f"s{index:02d}").mkdir(parents=True)
        (folder / f"s{index:02d}" / "student_code.py").write_text(f"# student {index}\n{code}")
    return folder


def _grade(batch: Path, db: Path, *extra: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    out = db.with_suffix(".json")
    proc = run_grader("grade", RUBRIC, str(batch), "--db", str(db), "--json", str(out), *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(out.read_text())


def _scores(results: list[dict]) -> dict[str, float]:
    return {r["student"]: r["raw_score"] for r in results}


def _rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT student, content_hash, rubric_hash FROM results").fetchall()


def _rows_so_far(db: Path) -> list[tuple]:
    """:func:`_rows` of a gradebook another process may still be creating (none yet: [])."""
    try:
        return _rows(db) if db.exists() else []
    except sqlite3.OperationalError:  # the file exists, its tables not yet
        return []


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    return _make_batch(tmp_path_factory.mktemp("batch"), 6)


@pytest.fixture(scope="module")
def inline_scores(batch, tmp_path_factory) -> dict[str, float]:
    _, results = _grade(batch, tmp_path_factory.mktemp("db") / "inline.sqlite", "--workers", "1")
    return _scores(results)


def test_inline_scores_are_right(inline_scores):
    assert inline_scores == {f"s{i:02d}": (2.0 if i % 2 == 0 else 1.0) for i in range(6)}


def test_local_pool_gives_the_same_grades(batch, inline_scores, tmp_path):
    _, results = _grade(batch, tmp_path / "pool.sqlite", "--workers", "2")
    assert _scores(results) == inline_scores
    assert [r["student"] for r in results] == sorted(inline_scores)  # input order kept


def test_dask_local_cluster_gives_the_same_grades(batch, inline_scores, tmp_path):
    pytest.importorskip("distributed")
    _, results = _grade(batch, tmp_path / "dask.sqlite", "--cluster", "local", "--workers", "2")
    assert _scores(results) == inline_scores
    assert len(_rows(tmp_path / "dask.sqlite")) == 6


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # the other cluster's worker
def test_a_local_cluster_forks_its_workers_and_waits_on_its_own_client(tmp_path):
    """Workers come from this process's forkserver (the harness imported once, before them);
    results come back pickled whole; and another Dask client current in this thread (a
    notebook's) does not get to wait for the results: with its loop, each took a second."""
    pytest.importorskip("distributed")
    import operator

    from distributed import Client, LocalCluster

    from grader.batch.executors import DaskExecutor, Task

    tasks = [Task(submission=_empty(f"s{i}", tmp_path)) for i in range(3)]
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as other, \
            Client(other):
        executor = DaskExecutor("local", 2)
        try:
            outcomes = {t.student: o for t, o in executor.stream(tasks, operator.attrgetter("student"))}
            client = executor._ready()
            parents = client.run(lambda: open(f"/proc/{os.getppid()}/cmdline").read())
            assert executor._as_completed([]).loop is client.loop
        finally:
            executor.close()
    assert outcomes == {"s0": "s0", "s1": "s1", "s2": "s2"}
    assert len(parents) == 2
    assert all("multiprocessing.forkserver" in command for command in parents.values())


def test_the_pool_and_its_sandboxes_end_when_the_grader_alone_is_killed(tmp_path):
    """``kill -9`` of the grader process only (not its group): the forkserver, the pool
    workers and their sandboxes must not live on (they used to, blocked on a pipe, for hours)."""
    from grader.sandbox.processes import descendants

    batch = _make_batch(tmp_path / "slow", 4, slow_s=20)
    command = [sys.executable, "-m", "grader.cli", "grade", RUBRIC, str(batch), "--db",
               str(tmp_path / "db.sqlite"), "--workers", "2"]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        family: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(family) < 6:  # forkserver, 2 workers, sandboxes
            family = descendants(proc.pid)
            time.sleep(0.2)
        assert len(family) >= 6, family
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for _ in range(50):
            alive = [pid for pid in family if _running(pid)]
            if not alive:
                break
            time.sleep(0.1)
        assert alive == []
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_sigkill_mid_batch_resumes_without_loss_or_duplicates(tmp_path):
    batch = _make_batch(tmp_path / "slow", 6, slow_s=0.6)
    db = tmp_path / "resume.sqlite"
    command = [sys.executable, "-m", "grader.cli", "grade", RUBRIC, str(batch), "--db", str(db),
               "--workers", "1"]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_rows_so_far(db)) < 2:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    recorded = len(_rows(db))
    assert 2 <= recorded < 6
    rerun, results = _grade(batch, db, "--workers", "1")
    assert not list(Path(tempfile.gettempdir()).glob(f"grader-*-{proc.pid}-*"))  # swept
    assert rerun.stdout.count("(from gradebook)") == recorded
    assert len(results) == 6 and len(_rows(db)) == 6
    assert len(set(_rows(db))) == 6


def test_regrade_named_students_only(batch, tmp_path):
    db = tmp_path / "regrade.sqlite"
    _grade(batch, db, "--workers", "1")
    proc, _ = _grade(batch, db, "--workers", "1", "--regrade", "s01,s04")
    assert proc.stdout.count("(from gradebook)") == 4
    proc, _ = _grade(batch, db, "--workers", "1", "--regrade")
    assert proc.stdout.count("(from gradebook)") == 0


def test_late_policy_from_csv(batch, tmp_path):
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at\n"
                     "s00,2026-09-20T23:00:00+00:00\n"   # on time
                     "s02,2026-09-21T00:10:00+00:00\n"   # inside the 15-minute grace
                     "s04,2026-09-22T08:00:00+00:00\n")  # 2 started days late
    _, results = _grade(batch, tmp_path / "late.sqlite", "--workers", "1", "--submitted-at",
                        str(times))
    by_student = {r["student"]: r for r in results}
    assert by_student["s00"]["score"] == 2 and by_student["s02"]["score"] == 2
    assert by_student["s04"]["late_days"] == 2
    assert by_student["s04"]["score"] == pytest.approx(1.6) and by_student["s04"]["raw_score"] == 2


def test_bad_times_csv_is_one_sentence(batch, tmp_path):
    times = tmp_path / "times.csv"
    times.write_text("name,when\nx,y\n")
    proc = run_grader("grade", RUBRIC, str(batch), "--db", str(tmp_path / "x.sqlite"),
                      "--submitted-at", str(times))
    assert proc.returncode == 2 and "line 2: expected columns 'student,submitted_at'" in proc.stderr


@pytest.mark.parametrize("submitted, expected", [
    ("2026-09-20T23:59:00", (0, 0.0)),
    ("2026-09-21T00:14:00", (0, 0.0)),
    ("2026-09-21T00:15:01", (1, 0.1)),
    ("2026-09-23T23:59:00", (3, 0.3)),
    ("2026-09-24T01:00:00", (4, 1.0)),
])
def test_late_penalty_rule(submitted, expected):
    policy = LatePolicy(due=dt.datetime(2026, 9, 20, 23, 59, tzinfo=dt.timezone.utc),
                        grace_minutes=15, penalty_per_day=0.1, max_late_days=3)
    days, fraction = late.penalty(policy, dt.datetime.fromisoformat(submitted).replace(
        tzinfo=dt.timezone.utc))
    assert (days, pytest.approx(fraction)) == (expected[0], pytest.approx(expected[1]))


def test_archive_time_comes_from_its_members(tmp_path):
    import zipfile

    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        info = zipfile.ZipInfo("student_code.py", date_time=(2026, 9, 19, 12, 0, 0))
        bundle.writestr(info, "x = 1\n")
    assert late.file_time(path) == dt.datetime(2026, 9, 19, 12, 0, tzinfo=dt.timezone.utc)


def test_a_back_dated_archive_is_late_unless_the_rubric_trusts_file_times(tmp_path):
    """Archive timestamps are the student's: only a platform time (or an opt-in) counts."""
    import zipfile

    path = tmp_path / "backdated.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr(zipfile.ZipInfo("student_code.py", date_time=(2026, 8, 1, 0, 0, 0)), "x = 1\n")
    due = dt.datetime(2026, 9, 20, 23, 59, tzinfo=dt.timezone.utc)
    policy = LatePolicy(due=due, penalty_per_day=0.1)
    assert late.submission_time("ann", path, policy, {}) == (None, late.UNKNOWN)
    platform = {"ann": due + dt.timedelta(days=2)}
    assert late.submission_time("ann", path, policy, platform) == (platform["ann"], late.PLATFORM)
    trusting = LatePolicy(due=due, penalty_per_day=0.1, trust_file_times=True)
    moment, source = late.submission_time("ann", path, trusting, {})
    assert moment.month == 8 and source == late.FILES


def test_gradescope_metadata_gives_the_submission_time(tmp_path):
    metadata = tmp_path / "submission_metadata.json"
    metadata.write_text('{"created_at": "2026-09-22T08:00:00.000000-04:00", "users": []}')
    assert late.gradescope_time(metadata) == dt.datetime(2026, 9, 22, 12, 0, tzinfo=dt.timezone.utc)
    assert late.gradescope_time(tmp_path / "absent.json") is None


# -- a failure of the grader is never a student's zero ------------------------------------

def _crash_worker(task):
    """A grading function whose worker process dies on the victim (once, or every time)."""
    marker = Path(task.root) / f"crashed-{task.student}"
    if task.student.startswith("victim") and (task.student == "victim_always" or not marker.exists()):
        marker.write_text("the worker died here\n")
        os._exit(1)
    return {"student": task.student}


def _crash_tasks(root: Path, victim: str):
    from grader.batch.executors import Task

    return [Task(submission=_empty(name, root)) for name in ("ann", victim, "bob", "cat")]


def _empty(student: str, root: Path, content_hash: str | None = None):
    from grader.intake.submission import Submission

    return Submission(student=student, root=root, content_hash=content_hash or student,
                      module_dir=".", modules={}, missing=[])


@pytest.mark.parametrize("victim", ["victim_once", "victim_always"])
def test_a_dead_pool_worker_is_retried_in_a_fresh_one(tmp_path, victim):
    from grader.batch.executors import PoolExecutor

    executor = PoolExecutor(2)
    try:
        outcomes = {task.student: outcome
                    for task, outcome in executor.stream(_crash_tasks(tmp_path, victim), _crash_worker)}
    finally:
        executor.close()
    others = {k: v for k, v in outcomes.items() if k != victim}
    assert others == {name: {"student": name} for name in ("ann", "bob", "cat")}  # all retried fine
    if victim == "victim_once":
        assert outcomes[victim] == {"student": victim}
    else:
        assert isinstance(outcomes[victim], Exception)


def test_a_result_the_grader_failed_to_produce_is_never_reused(tmp_path):
    from grader.batch.grade import BatchOptions, _finish
    from grader.batch.executors import Task
    from grader.store.gradebook import Gradebook
    from grader.rubric.load import load_rubric

    rubric, rubric_hash = load_rubric(Path(RUBRIC))
    task = Task(submission=_empty("ann", tmp_path, "abc"))
    result = _finish(RuntimeError("worker died"), task, tmp_path, rubric, rubric_hash, BatchOptions(),
                     {})
    assert result.grader_failure and "the grader failed, not the submission" in result.notes[0]
    with Gradebook(tmp_path / "book.sqlite") as book:
        book.record(result)
        assert book.find("ann", "abc", rubric_hash) is None  # graded again next time


def test_a_task_sets_its_data_folder_and_threads_for_its_length_only(monkeypatch, tmp_path):
    from grader.datapath import course_data_dir
    from grader.batch.executors import Task, task_context
    from grader.sandbox.launcher import threads_allowed

    monkeypatch.delenv("GRADER_THREADS", raising=False)
    monkeypatch.setenv("GRADER_DATA", str(tmp_path / "before"))
    (tmp_path / "before").mkdir()
    environment = dict(os.environ)
    with task_context(Task(submission=_empty("ann", tmp_path), data_dir=str(tmp_path), threads=3)):
        assert course_data_dir() == tmp_path and threads_allowed() == 3
        assert dict(os.environ) == environment  # no task writes the process's environment
    assert course_data_dir() == tmp_path / "before"


_MEET = threading.Barrier(2, timeout=30)


def _data_folder_seen_twice(task) -> tuple[str, str, int]:
    """What a task reads of its settings before and after another task set its own."""
    from grader.datapath import course_data_dir
    from grader.batch.executors import task_context
    from grader.sandbox.launcher import threads_allowed

    with task_context(task):
        first = str(course_data_dir())
        _MEET.wait()  # both tasks are inside their contexts now
        _MEET.wait()
        return first, str(course_data_dir()), threads_allowed()


def test_tasks_in_threads_of_one_dask_worker_each_keep_their_own_data_folder(tmp_path):
    """A Dask worker with 4 threads runs two batches' tasks at once (two assignments, two data
    folders): each reads its own folder and thread share throughout."""
    from distributed import Client, LocalCluster

    from grader.batch.executors import Task

    folders = [tmp_path / "proj1_data", tmp_path / "proj2_data"]
    tasks = []
    for number, folder in enumerate(folders, 1):
        folder.mkdir()
        tasks.append(Task(submission=_empty(f"s{number}", tmp_path), data_dir=str(folder),
                          threads=number))
    with LocalCluster(n_workers=1, threads_per_worker=4, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        seen = client.gather(client.map(_data_folder_seen_twice, tasks, pure=False))
    assert seen == [(str(folders[0]), str(folders[0]), 1), (str(folders[1]), str(folders[1]), 2)]


def test_a_worker_refuses_a_task_whose_rubric_changed_during_the_batch(tmp_path):
    from grader.errors import GraderError
    from grader.batch.executors import Task, run_task
    from grader.rubric.load import load_rubric

    rubric_hash = load_rubric(Path(RUBRIC))[1]
    task = Task(submission=_empty("ann", tmp_path), rubric_file=str(RUBRIC),
                rubric_hash="0" * 16)
    with pytest.raises(GraderError, match=f"changed during the batch \\(it hashes to {rubric_hash}"):
        run_task(task)
