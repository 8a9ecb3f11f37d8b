"""The C allocator's thresholds in a grading process that Dask's nanny started (grader.batch.allocator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# 200 arrays of 1 MiB made and freed, before and after restore_thresholds(): the minor page
# faults each loop took, and what restore_thresholds() returned
PROBE = """
import json, resource
import numpy as np
from grader.batch import allocator

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(200):
        array = np.ones(1 << 17)
        del array
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

before = faults()
restored = allocator.restore_thresholds()
faults()  # the first loop after the change may still grow the heap once
print(json.dumps({"before": before, "restored": restored, "after": faults()}))
"""


def _probe(**env: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**environment, **env},
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_dasks_trim_threshold_makes_every_large_array_fault_in_until_restored():
    probe = _probe(MALLOC_TRIM_THRESHOLD_="65536")
    assert probe["before"] > 200 * 200  # each 1 MiB array is a fresh mmap: 256 pages faulted
    assert probe["restored"] is True
    assert probe["after"] < 200  # the heap reuses the freed block


def test_without_the_variable_nothing_changes():
    probe = _probe()
    assert probe["restored"] is False
    assert probe["before"] < 2000 and probe["after"] < 200  # glibc's own adjustment


def test_dask_still_starts_its_workers_with_the_variable():
    """The reason for the module: if a Dask release stops setting it, the module can go."""
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    assert "MALLOC_TRIM_THRESHOLD_" in dask.config.get("distributed.nanny.pre-spawn-environ")


def test_every_grading_task_restores_them_first(monkeypatch, tmp_path):
    from grader.batch import allocator
    from grader.errors import GraderError
    from grader.batch.executors import Task, run_task
    from grader.intake.submission import Submission

    calls = []
    monkeypatch.setattr(allocator, "restore_thresholds", lambda: calls.append(1))
    with pytest.raises(GraderError):  # no such rubric: the task fails after the restore
        run_task(Task(submission=Submission(student="ann", root=tmp_path, content_hash="abc",
                                                    module_dir=".", modules={}, missing=[]),
                      rubric_file=str(tmp_path / "missing.yaml")))
    assert calls == [1]
