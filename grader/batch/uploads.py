"""Grade what students upload to the server, in the fair order of the uploads' queue.

``graders`` threads of the server (:class:`UploadGraders`) each claim the next upload
(:meth:`grader.store.uploads.Uploads.claim`), put its kept file where a batch expects a
submission (named after the student), and grade it as ``grader grade`` would
(:func:`grader.batch.grade.grade_batch`, one submission): the same intake rules, sandbox,
gradebook rows and late policy, with the server's receive time as the platform time. Each
grading's student code runs in its own sandbox process, so the threads only wait on them.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader import workdirs
from grader.batch.grade import BatchOptions, grade_batch
from grader.batch.progress import BatchProgress
from grader.console import console
from grader.intake import archive
from grader.rubric.model import Rubric
from grader.store.gradebook import Gradebook
from grader.store.uploads import Upload, Uploads

POLL_S = 1.0  # how often an idle grader looks for uploads another process queued


@dataclass(frozen=True)
class Accepted:
    """An assignment the server takes uploads for: its rubric, the rubric's hash and file."""

    rubric: Rubric
    rubric_hash: str
    rubric_file: Path


class UploadGraders:
    """``count`` threads grading the uploads of the gradebook ``db`` for the ``accepted``
    assignments (name -> :class:`Accepted`), here or, with ``cluster`` (a Dask scheduler's
    ``tcp://`` address), on its workers; :meth:`wake` after an upload, :meth:`stop` at the
    end. ``on_done(upload)`` hears of each grading that ended, graded or not (tests)."""

    def __init__(self, db: Path, accepted: dict[str, Accepted], count: int = 1,
                 on_done: Callable[[Upload], None] | None = None,
                 cluster: str | None = None) -> None:
        self._db, self._accepted, self._on_done = db, accepted, on_done
        self._cluster = cluster
        self._work = threading.Event()
        self._stopping = threading.Event()
        with Uploads(db) as uploads:
            uploads.recover()  # what a killed server was grading is graded again
        self._threads = [threading.Thread(target=self._run, name=f"upload-grader-{n}", daemon=True)
                         for n in range(count)]
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """An upload arrived: an idle grader looks now."""
        self._work.set()

    def stop(self) -> None:
        """No new grading starts; those running finish (or are graded again at the next start)."""
        self._stopping.set()
        self._work.set()
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        with Uploads(self._db) as uploads:
            while not self._stopping.is_set():
                upload = uploads.claim()
                if upload is None:
                    self._work.wait(POLL_S)
                    self._work.clear()
                    continue
                self._grade(uploads, upload)
                if self._on_done is not None:
                    self._on_done(uploads.get(upload.id))

    def _grade(self, uploads: Uploads, upload: Upload) -> None:
        accepted = self._accepted.get(upload.assignment)
        if accepted is None:
            uploads.fail(upload.id, f"the server no longer takes {upload.assignment}")
            return
        try:
            result = grade_upload(self._db, uploads, upload, accepted, self._cluster)
        except Exception as exc:  # noqa: BLE001 - the grader's failure: graded again later
            uploads.fail(upload.id, f"the grader failed ({type(exc).__name__}: {exc})")
            return
        if result is None or result.grader_failure:
            uploads.fail(upload.id, result.grader_failure if result else "no result")
            return
        shown = result.without_hidden()  # hidden checks wait for the instructor to publish
        uploads.finish(upload.id, shown.score, shown.max_score)


def grade_upload(db: Path, uploads: Uploads, upload: Upload, accepted: Accepted,
                 cluster: str | None = None):
    """Grade ``upload`` into the gradebook ``db`` (its result, or ``None``), on the Dask
    scheduler at ``cluster`` if one is given."""
    folder = workdirs.make("grader-upload-")
    try:
        path = place(uploads.file(upload.sha256), upload, folder)
        received = dt.datetime.fromisoformat(upload.received_at)
        options = BatchOptions(submitted_at={upload.student: received}, cluster=cluster)
        with Gradebook(db) as book:
            results = grade_batch([path], accepted.rubric, accepted.rubric_hash,
                                  accepted.rubric_file, book, options,
                                  BatchProgress(1, console(), quiet=True))
        return results[0] if results else None
    finally:
        workdirs.remove(folder)


def place(kept: Path, upload: Upload, folder: Path) -> Path:
    """The kept file of ``upload`` where a batch reads a submission named after its student:
    an archive as ``STUDENT.zip`` (or ``.tar.gz``...), a single file in a folder ``STUDENT/``."""
    name = Path(upload.name).name
    if name.lower().endswith(archive.ARCHIVE_SUFFIXES):
        target = folder / f"{upload.student}{name[len(archive.archive_stem(Path(name))):]}"
        shutil.copyfile(kept, target)
        return target
    (folder / upload.student).mkdir()
    shutil.copyfile(kept, folder / upload.student / name)
    return folder / upload.student
