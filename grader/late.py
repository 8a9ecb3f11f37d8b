"""Late policy: when a submission was made, and what lateness costs under the rubric's rule.

The submission time comes, in order of preference, from a CSV the instructor
provides (``student,submitted_at`` with ISO-8601 times), from the archive's
own metadata (the newest member), or from the newest file modification time.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import tarfile
import zipfile
from pathlib import Path

from grader import archive
from grader.errors import GraderError
from grader.rubric import LatePolicy


def read_times_csv(path: Path) -> dict[str, dt.datetime]:
    """``student -> submitted_at`` from a CSV with those two columns."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise GraderError(f"--submitted-at {path}: {exc.strerror}") from None
    times = {}
    for number, row in enumerate(rows, start=2):
        try:
            times[row["student"].strip()] = _aware(dt.datetime.fromisoformat(row["submitted_at"].strip()))
        except (KeyError, ValueError, AttributeError):
            raise GraderError(f"{path}, line {number}: expected columns 'student,submitted_at' "
                              "with an ISO-8601 time") from None
    return times


def submission_time(path: Path) -> dt.datetime:
    """When ``path`` was submitted, from archive metadata or file modification times (UTC)."""
    stamps: list[float] = []
    if archive.is_archive(path):
        stamps = _archive_stamps(path)
    elif path.is_dir():
        stamps = [p.stat().st_mtime for p in path.rglob("*") if p.is_file()]
    if not stamps:
        stamps = [path.stat().st_mtime]
    return dt.datetime.fromtimestamp(max(stamps), tz=dt.timezone.utc)


def penalty(policy: LatePolicy | None, submitted: dt.datetime) -> tuple[int, float]:
    """``(days_late, fraction_of_score_lost)``; any part of a day counts as a day."""
    if policy is None:
        return 0, 0.0
    overdue = submitted - _aware(policy.due) - dt.timedelta(minutes=policy.grace_minutes)
    if overdue <= dt.timedelta(0):
        return 0, 0.0
    days = math.ceil(overdue / dt.timedelta(days=1))
    if policy.max_late_days is not None and days > policy.max_late_days:
        return days, 1.0
    return days, min(1.0, days * policy.penalty_per_day)


def _archive_stamps(path: Path) -> list[float]:
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as bundle:
                return [dt.datetime(*info.date_time, tzinfo=dt.timezone.utc).timestamp()
                        for info in bundle.infolist()]
        with tarfile.open(path) as bundle:
            return [member.mtime for member in bundle.getmembers()]
    except (zipfile.BadZipFile, tarfile.TarError, OSError, ValueError):
        return []


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
