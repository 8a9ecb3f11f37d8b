"""The pairs ``grader similarity`` flagged, kept in the gradebook beside the grades.

:class:`SimilarityLog` is a part of :class:`~grader.store.gradebook.Gradebook`: it works on the
gradebook's connection.
"""

from __future__ import annotations

import sqlite3


class SimilarityLog:
    """The similarity table of a gradebook."""

    _db: sqlite3.Connection

    def record_similarity(self, assignment: str, pairs: list[tuple[str, str, float, float, str]],
                          at: str) -> None:
        """Replace ``assignment``'s flagged pairs ``(a, b, share_a, share_b, page)`` (a derived
        analysis: the newest run is the one that counts)."""
        with self._db:
            self._db.execute("DELETE FROM similarity WHERE assignment = ?", (assignment,))
            self._db.executemany("INSERT INTO similarity VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [(assignment, *pair, at) for pair in pairs])

    def similar_pairs(self) -> dict[str, list[tuple[str, str, float, float, str]]]:
        """``assignment -> flagged pairs``, most similar first."""
        found: dict[str, list] = {}
        for assignment, *pair in self._db.execute(
                "SELECT assignment, student_a, student_b, share_a, share_b, page FROM similarity "
                "ORDER BY assignment, MAX(share_a, share_b) DESC"):
            found.setdefault(assignment, []).append(tuple(pair))
        return found
