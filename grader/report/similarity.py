"""Pages of the similarity report: a ranked ``index.html`` and one side-by-side page per pair
at or above the threshold (shared lines highlighted); everything a student wrote is escaped."""

from __future__ import annotations

from pathlib import Path

from grader.report.environment import ENV
from grader.intake.similarity import Pair


def write_pages(assignment: str, pairs: list[Pair], sources: dict[str, str], out: Path,
                threshold: float) -> list[Path]:
    """Write the pages of the pairs scoring ``threshold`` or more; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    flagged = [p for p in pairs if p.score >= threshold]
    written = []
    for pair in flagged:
        page = out / pair.page
        page.write_text(ENV.get_template("similarity_pair.html.j2").render(
            assignment=assignment, pair=pair, lines_a=sources[pair.a].splitlines(),
            lines_b=sources[pair.b].splitlines()), encoding="utf-8")
        written.append(page)
    index = out / "index.html"
    index.write_text(ENV.get_template("similarity.html.j2").render(
        assignment=assignment, pairs=flagged, threshold=threshold, count=len(sources)),
        encoding="utf-8")
    return written + [index]
