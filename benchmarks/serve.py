"""How fast the staff application answers for a class: server time of its pages.

Builds a gradebook of synthetic results shaped like the course's assignments (the same as
``benchmarks/reports.py``: filtering checks with figures, gradient, matching and training
checks) plus one manual item per result with an image to look at, signs in through a
one-time link, and times, in the server process (Flask's test client: no network), each
page many times:

- the class view (every student's line),
- one student's page (figures drawn from the stored arrays),
- the grading page of the manual item,
- the grading round trip: save a level and load the next submission's page.

Prints a Markdown table of the median and 95th percentile in milliseconds. Run:
``python benchmarks/serve.py [--students 500] [--repeat 30]``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports import synthetic_result  # noqa: E402

from grader.store.gradebook import Gradebook  # noqa: E402
from grader.store.staff import Staff  # noqa: E402
from grader.web.app import create_app, tune_collector  # noqa: E402

ITEM = {"id": "hybrid_quality", "name": "the hybrid image works at both distances", "points": 5,
        "levels": [{"points": 5, "label": "convincing"}, {"points": 2, "label": "one distance"},
                   {"points": 0, "label": "not a hybrid"}],
        "show": ["check:{check}", "file:*.png"]}


def build(db: Path, students: int) -> list[str]:
    """A gradebook of ``students`` results with a manual item each; their ids."""
    png = (Path(__file__).resolve().parents[1] / "docs" / "images" / "student-report.png").read_bytes()
    names = []
    with Gradebook(db) as book:
        for index in range(students):
            result = synthetic_result(index)
            item = {**ITEM, "show": [s.format(check=result.checks[1].id) for s in ITEM["show"]]}
            book.record(replace(result, manual=[item], files={"hybrid.png": png}))
            names.append(result.student)
    return names


def timed(call, repeat: int) -> list[float]:
    """Milliseconds of ``repeat`` calls of ``call`` (each must answer 200 or 302)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        times.append(1000 * (time.perf_counter() - started))
        assert response.status_code in (200, 302), response.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "gradebook.sqlite"
        started = time.perf_counter()
        names = build(db, args.students)
        built = time.perf_counter() - started
        app = create_app(db)
        tune_collector()  # as grader serve does
        with Staff(db) as staff:
            staff.add("prof", "instructor", by="benchmark")
            token = staff.link_token("prof")
        client = app.test_client()
        client.post("/login", data={"token": token})
        assignment = "synthetic_course"
        grading = f"/grade/{assignment}/hybrid_quality/"
        page = client.get(grading + names[0]).get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        queue = iter(names)

        def round_trip():
            student = next(queue)
            saved = client.post(grading + student, data={"csrf": csrf, "level": "1", "seen": ""})
            return client.get(saved.headers["Location"])

        cold = timed(lambda: client.get("/"), 1)[0]  # the first: every result parsed once
        rows = [("class view", timed(lambda: client.get("/"), args.repeat)),
                ("student page", timed(lambda: client.get(f"/students/{assignment}/{names[7]}"),
                                       args.repeat)),
                ("grading page", timed(lambda: client.get(grading + names[3]), args.repeat)),
                ("save and next", timed(round_trip, min(args.repeat, args.students - 1)))]
    print(f"{args.students} students (gradebook built in {built:.1f} s), {args.repeat} requests "
          f"each after a first class view of {cold:.0f} ms (results parsed once, then cached), "
          "server time in the test client\n")
    print("| page | median (ms) | p95 (ms) |")
    print("|---|---:|---:|")
    for name, times in rows:
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"| {name} | {statistics.median(times):.0f} | {p95:.0f} |")


if __name__ == "__main__":
    main()
