"""CSV files the instructor hands the grader (submission times, extensions, Canvas users):
each row parsed, and one sentence naming the file and line of the first bad one."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from grader.errors import GraderError

Row = TypeVar("Row")


def read_rows(path: Path, flag: str, parse: Callable[[dict[str, str]], Row],
              expected: str) -> list[Row]:
    """``parse(row)`` of each row of the CSV at ``path`` (a header line, then data).

    ``flag`` names the option in the sentence for an unreadable file; a row that ``parse``
    rejects (a missing column, a bad value) gives "``path``, line N: expected ``expected``".
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise GraderError(f"{flag} {path}: {exc.strerror}") from None
    parsed = []
    for number, row in enumerate(rows, start=2):
        try:
            parsed.append(parse(row))
        except (KeyError, ValueError, TypeError, AttributeError):
            raise GraderError(f"{path}, line {number}: expected {expected}") from None
    return parsed
