"""The results data model: one :class:`CheckResult` per check, one :class:`SubmissionResult` per submission.

Both are frozen dataclasses that round-trip through JSON (``to_dict`` / ``from_dict``), which
is how the gradebook stores them and how exports read them; a changed result is a new one
(:func:`dataclasses.replace`). What a kind records for its own figures and messages is in
``details``; what other stages read (the time limit, the calls run, the device, the measured
number, an instructor's override) are named fields, never a kind's keys.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Status(str, enum.Enum):
    """Outcome of one check, decided by the trusted parent only."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one rubric check on one submission.

    ``message`` is one human sentence; ``details`` holds the numbers behind it
    (max abs error and its index, accuracy, seconds). ``stdout`` is the
    student's own captured output, truncated, never parsed.
    """

    id: str
    name: str
    target: str
    status: Status
    score: float
    max_score: float
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    stdout: str = ""
    duration_s: float = 0.0
    visibility: str = "visible"
    kind: str = ""  # the check kind that judged it (it draws the report's figures); "" before
    limit_s: float | None = None  # the check's time limit, seconds (the report shows it)
    calls_run: int | None = None  # student calls this grading ran (the rest came from the store)
    calls_reused: int | None = None  # student calls whose stored outcomes were reused
    device: str = ""  # where the student's code ran, when the kind says (training checks)
    # the number the check measured and scored by a curve (test accuracy, top-100 matching
    # accuracy): the Gradescope leaderboard's value
    metric: float | None = None
    # an instructor's override that replaced the autograder's score: score, autograded_score,
    # autograded_status (or out_of for an adjustment), by, at, reason
    override: dict[str, Any] | None = None
    # small arrays for the report's figures (the student's output, the expected one for
    # visible checks, matched points...); stored beside the result, not inside its JSON
    artifacts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self, include_artifacts: bool = False) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        data.pop("artifacts")
        if include_artifacts and self.artifacts:
            data["artifacts"] = encode_arrays(self.artifacts)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        artifacts = data.get("artifacts")
        data = _named_from_details(data)
        return cls(**{**data, "status": Status(data["status"]),
                      "artifacts": decode_arrays(artifacts) if artifacts else {}})


# details keys that results recorded before these became named fields (read once, on load)
_NAMED_IN_DETAILS = ("limit_s", "calls_run", "calls_reused", "override")


def _named_from_details(data: dict[str, Any]) -> dict[str, Any]:
    """An older result's record with the facts it kept in ``details`` moved to their fields."""
    details = dict(data.get("details") or {})
    moved = {key: details.pop(key) for key in _NAMED_IN_DETAILS if key in details}
    if "device" not in data and isinstance(details.get("device"), str):
        moved["device"] = details["device"]
    kind = data.get("kind") or _kind_of(details)
    if kind != data.get("kind"):
        moved["kind"] = kind
    if "metric" not in data and kind in ("accuracy", "training") \
            and isinstance(details.get("accuracy"), (int, float)):
        moved["metric"] = float(details["accuracy"])
    return {**data, **moved, "details": details} if moved else data


def _kind_of(details: dict[str, Any]) -> str:
    """The kind that judged a result recorded before results named it, told by the numbers
    each kind records ("" when none tells: such a result has no figures)."""
    for key, kind in (("rel_errors", "gradient"), ("confusion_matrix", "training"),
                      ("num_matches", "accuracy"), ("max_abs_error", "numeric")):
        if key in details:
            return kind
    return ""


@dataclass(frozen=True)
class SubmissionResult:
    """Everything recorded about grading one submission against one rubric."""

    student: str
    content_hash: str
    assignment: str
    rubric_hash: str
    checks: list[CheckResult]
    versions: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    sandbox: str = ""
    isolation: list[str] = field(default_factory=list)  # the layers that held (grader doctor)
    # layers the sandbox went without, and why (off here, failed their probe, or not for it)
    isolation_missing: dict[str, str] = field(default_factory=dict)
    warm: bool = False  # the sandbox was forked by a warm worker (grader.sandbox.zygote)
    grader_failure: str = ""  # set when the harness, not the student, failed: never reused
    started_at: str = ""
    finished_at: str = ""
    notes: list[str] = field(default_factory=list)
    submitted_at: str = ""
    submitted_at_source: str = ""  # where submitted_at comes from (late.PLATFORM, FILES, UNKNOWN)
    late_days: int = 0
    late_penalty: float = 0.0
    late_policy: dict[str, Any] = field(default_factory=dict)  # the rubric's, at grading time
    # the student calls' outcomes (request key -> encoded outcome, grader.sandbox.memo), on
    # their way to the gradebook's store; not part of the result's JSON
    calls: dict[str, str] = field(default_factory=dict, repr=False)
    # the rubric's manual items at grading time (grader.rubric.model.ManualItem, as data)
    manual: list[dict[str, Any]] = field(default_factory=list)
    # the submission's files those items show (path -> bytes), on their way to the gradebook's
    # store like ``calls``; not part of the result's JSON
    files: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def raw_score(self) -> float:
        """Points earned by the checks, before any late penalty."""
        return round(sum(c.score for c in self.checks), 6)

    @property
    def score(self) -> float:
        """The grade: the checks' points minus the late penalty."""
        return round(self.raw_score * (1.0 - self.late_penalty), 6)

    @property
    def protection(self) -> str:
        """The isolation layers that held, in words (for reports)."""
        if self.sandbox in ("", "not started"):
            return "no student code ran"
        return ", ".join(self.isolation) or "resource limits only"

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 6)

    def without_hidden(self) -> SubmissionResult:
        """This result with only its visible checks: what a student sees before the
        instructor publishes the assignment (its score is theirs, the late penalty applied)."""
        return dataclasses.replace(self, checks=[c for c in self.checks
                                                 if c.visibility == "visible"])

    def to_dict(self, include_artifacts: bool = False) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["checks"] = [c.to_dict(include_artifacts) for c in self.checks]
        data["files"] = {name: base64.b64encode(blob).decode("ascii")
                         for name, blob in self.files.items()}
        if not include_artifacts:
            data.pop("calls")
            data.pop("files")
        data["score"] = self.score
        data["raw_score"] = self.raw_score
        data["max_score"] = self.max_score
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        fields = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in fields}
        kept["checks"] = [CheckResult.from_dict(c) for c in data["checks"]]
        kept["files"] = {name: base64.b64decode(text) for name, text in data.get("files", {}).items()}
        return cls(**kept)


def encode_arrays(arrays: dict[str, np.ndarray]) -> str:
    """Arrays as base64 of an ``.npz`` (no pickle), for JSON transport and the gradebook.

    Each member is deflated only where that pays (zeros, masks, labels): deflate runs at
    about 20-50 MB/s and saves 10-17 % of float images, which made it most of the trusted
    side's cost of a grading.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            data = member.getvalue()
            method = zipfile.ZIP_DEFLATED if _compressible(data) else zipfile.ZIP_STORED
            bundle.writestr(zipfile.ZipInfo(f"{name}.npy"), data, compress_type=method,
                            compresslevel=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _compressible(data: bytes, sample: int = 4096) -> bool:
    """Whether deflate halves (at least) the first ``sample`` bytes of ``data``."""
    head = data[:sample]
    return len(zlib.compress(head, 1)) < len(head) // 2


def decode_arrays(text: str | bytes) -> dict[str, np.ndarray]:
    raw = base64.b64decode(text) if isinstance(text, str) else text
    with np.load(io.BytesIO(raw), allow_pickle=False) as bundle:
        return {name: bundle[name] for name in bundle.files}
