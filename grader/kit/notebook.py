"""Self-check from a Jupyter notebook: ``from grader import check; check("my_imfilter")``.

Each call re-reads the student's files from disk (edits saved since the last
call count, no kernel restart) and runs the matching visible checks in a fresh
sandboxed process — never in the notebook's own process. The result shows as a
small HTML table in Jupyter and as plain text in a terminal.
"""

from __future__ import annotations

import html
from pathlib import Path

from grader.errors import GraderError
from grader.results import SubmissionResult


class CheckReport:
    """The outcome of :func:`check`, rendered for notebooks (HTML) and terminals (text)."""

    def __init__(self, result: SubmissionResult):
        self.result = result

    @property
    def passed(self) -> bool:
        return all(c.status.value in ("passed", "skipped") for c in self.result.checks)

    def __repr__(self) -> str:
        lines = [f"{self.result.assignment}: {self.result.score:g}/{self.result.max_score:g}"]
        lines += [f"  {c.status.value:8} {c.score:g}/{c.max_score:g}  {c.id}: {c.message}"
                  for c in self.result.checks]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colours = {"passed": "#2e7d32", "skipped": "#9e9e9e"}
        rows = "".join(
            f"<tr><td><code>{html.escape(c.id)}</code></td>"
            f"<td style='color:{colours.get(c.status.value, '#c62828')}'>{c.status.value}</td>"
            f"<td>{c.score:g}/{c.max_score:g}</td><td>{html.escape(c.message)}</td></tr>"
            for c in self.result.checks)
        return (f"<p><b>{html.escape(self.result.assignment)}</b>: {self.result.score:g}/"
                f"{self.result.max_score:g}</p><table><tr><th>check</th><th>status</th>"
                f"<th>points</th><th>message</th></tr>{rows}</table>")


def check(*targets: str, path: str | Path = ".") -> CheckReport:
    """Run the visible checks of the function(s) or check id(s) named (all when none) on ``path``."""
    from grader.kit import check_kit, find_kit, open_kit

    root = find_kit(Path(path))
    if root is None:
        raise GraderError(f"no kit found at or above {Path(path).resolve()}; start the notebook "
                          "in the folder of the assignment kit")
    return CheckReport(check_kit(open_kit(root), Path(path), only=list(targets) or None))
