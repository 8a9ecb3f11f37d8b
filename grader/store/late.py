"""Late policy: when a submission was made, and what lateness costs under the rubric's rule.

The submission time comes from the platform, never from the student: a CSV the instructor
exports from the LMS (``--submitted-at``, ``student,submitted_at`` in ISO 8601) or Gradescope's
``submission_metadata.json`` (``created_at``). Timestamps inside an archive and file
modification times are written by the student (a back-dated zip is one ``touch`` away); a
rubric may still opt in to them (``late: {trust_file_times: true}``), and the result then says
so. Without a platform time no penalty is applied, and the result says that too.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

from grader.intake import archive
from grader.store.csv_input import read_rows
from grader.store.extensions import Extension
from grader.results import SubmissionResult
from grader.rubric.load import LatePolicy, Rubric


def read_times_csv(path: Path) -> dict[str, dt.datetime]:
    """``student -> submitted_at`` from a CSV with those two columns."""
    return dict(read_rows(path, "--submitted-at", lambda row: (
        row["student"].strip(), _aware(dt.datetime.fromisoformat(row["submitted_at"].strip()))),
        "columns 'student,submitted_at' with an ISO-8601 time"))


PLATFORM = "the platform's submission time"
FILES = "the archive's and files' own timestamps (written by the student)"
UNKNOWN = "unknown (no --submitted-at time): no late penalty applied"


def submission_time(student: str, path: Path, policy: LatePolicy | None,
                    platform: dict[str, dt.datetime]) -> tuple[dt.datetime | None, str]:
    """When ``student`` submitted ``path``, and where that time comes from (a sentence)."""
    if student in platform:
        return platform[student], PLATFORM
    if policy is not None and policy.trust_file_times:
        return file_time(path), FILES
    return None, UNKNOWN


def gradescope_time(metadata: Path) -> dt.datetime | None:
    """``created_at`` of Gradescope's ``submission_metadata.json``; ``None`` if absent or unreadable."""
    try:
        created = json.loads(metadata.read_text(encoding="utf-8"))["created_at"]
        return _aware(dt.datetime.fromisoformat(str(created).replace("Z", "+00:00")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def file_time(path: Path) -> dt.datetime:
    """The newest timestamp of ``path``: its archive members or its files' modification times."""
    stamps: list[float] = []
    if archive.is_archive(path):
        stamps = _archive_stamps(path)
    elif path.is_dir():
        stamps = [p.stat().st_mtime for p in path.rglob("*") if p.is_file()]
    if not stamps:
        stamps = [path.stat().st_mtime]
    return dt.datetime.fromtimestamp(max(stamps), tz=dt.timezone.utc)


def penalty(policy: LatePolicy | None, submitted: dt.datetime,
            extra_days: float = 0.0) -> tuple[int, float]:
    """``(days_late, fraction_of_score_lost)`` with the due date moved by ``extra_days`` (an
    extension); any part of a day counts as a day."""
    if policy is None:
        return 0, 0.0
    due = _aware(policy.due) + dt.timedelta(days=extra_days)
    overdue = submitted - due - dt.timedelta(minutes=policy.grace_minutes)
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


LATE_NOTE = "submitted "


def apply_policy(result: SubmissionResult, path: Path, rubric: Rubric,
                 platform: dict[str, dt.datetime],
                 extensions: dict[str, Extension] | None = None) -> SubmissionResult:
    """Stamp on ``result`` the submission time, where it comes from, the rubric's late policy
    (so that a later extension can be applied without a regrade) and the late penalty."""
    moment, source = submission_time(result.student, path, rubric.late, platform)
    result = replace(
        result, submitted_at_source=source,
        submitted_at=moment.isoformat(timespec="seconds") if moment else "",
        late_policy=rubric.late.model_dump(mode="json") if rubric.late else {})
    if moment is None:
        return replace(result, notes=[*result.notes, f"submission time {source}"]) \
            if rubric.late is not None else result
    extension = (extensions or {}).get(result.student)
    days, fraction = penalty(rubric.late, moment, extension.days if extension else 0.0)
    result = replace(result, late_days=days, late_penalty=fraction)
    if extension is not None:
        return replace(result, notes=[*result.notes, extension_note(result, extension)])
    if days:
        return replace(result, notes=[*result.notes, f"{LATE_NOTE}{days} day(s) late: "
                                      f"−{fraction:.0%} (time from {source})"])
    return result


def extension_note(result: SubmissionResult, extension: Extension) -> str:
    """One sentence: the extension, who granted it and why, and the lateness it leaves."""
    lateness = (f"{result.late_days} day(s) late: −{result.late_penalty:.0%}" if result.late_days
                else "on time")
    return (f"{LATE_NOTE}{lateness} with an extension of {extension.days:g} day(s) granted by "
            f"{extension.by} on {extension.at[:10]} ({extension.reason})")


def stored_policy(result: SubmissionResult) -> LatePolicy | None:
    """The late policy recorded in ``result`` when it was graded (``None`` if it had none)."""
    return LatePolicy.model_validate(result.late_policy) if result.late_policy else None


def parse_time(text: str) -> dt.datetime | None:
    """An ISO-8601 time as recorded in a result (``None`` for an empty one)."""
    try:
        return _aware(dt.datetime.fromisoformat(text)) if text else None
    except ValueError:
        return None
