"""Graders and sandboxes that share a machine never hurt each other.

- **A CPU-hungry neighbour** (``tests/neighbours/cpu_hog``: a dozen busy processes, each in a
  session of its own) graded beside an honest CPU-bound submission
  (``tests/neighbours/honest_cpu_bound``: 1.5 CPU-seconds per call on a 3 s limit), in
  five pairs, with two workers: every honest copy keeps 7/7. Time limits count the CPU a sandbox
  received, every sandbox has the same CPU weight where cgroups exist, and a check that timed
  out while crowded out is run again alone.
- **Two graders on one host** with the default settings, each in a mount namespace of its
  own (a private ``/run``, as two containers have) but seeing each other's processes, grading
  at once as root: no honest point lost, the uid layer in every result, nothing killed across.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from other_users import opened_for_other_users, reachable
from test_hostile import _as_mode_user, mode_environment, mode_problem

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
NEIGHBOURS = HERE / "neighbours"
CONTROL = HERE / "hostile" / "submissions" / "control_correct"
PAIRS = 5


@pytest.fixture(scope="module", autouse=True)
def _other_users_may_run_python():
    with opened_for_other_users():
        yield


def _grade(mode: str, base: Path, corpus: Path, extra_env: dict | None = None,
           prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    env = {**mode_environment(mode, base), **(extra_env or {})}
    who = _as_mode_user(mode, base)
    return subprocess.Popen([*prefix, sys.executable, "-m", "grader.cli", "grade",
                             str(NEIGHBOURS / "rubric.yaml"), str(corpus), "--db",
                             str(base / "gradebook.sqlite"), "--json", str(base / "results.json"),
                             "--workers", "2"], env=env, cwd=base, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **who)


def _base(tmp_path: Path) -> Path:
    for folder in ("corpus", "tmp", "cache", "data"):
        (tmp_path / folder).mkdir(parents=True)
    return tmp_path


@pytest.mark.parametrize("mode", ["bubblewrap", "root", "user"])
def test_a_cpu_hungry_neighbour_never_moves_an_honest_grade(mode, tmp_path_factory):
    problem = mode_problem(mode)
    if problem:
        pytest.skip(problem)
    base = _base(tmp_path_factory.mktemp("n"))  # short: a forkserver's socket lives under TMPDIR
    for pair in range(1, PAIRS + 1):  # p1_hog beside p1_honest, then p2_..., by name
        shutil.copytree(NEIGHBOURS / "honest_cpu_bound", base / "corpus" / f"p{pair}_honest")
        shutil.copyfile(HERE / "hostile" / "attack.py", base / "corpus" / f"p{pair}_honest" / "attack.py")
        shutil.copytree(NEIGHBOURS / "cpu_hog", base / "corpus" / f"p{pair}_hog")
    grader = _grade(mode, base, base / "corpus")
    output, _ = grader.communicate(timeout=900)
    assert grader.returncode == 0, output[-3000:]
    results = {r["student"]: r for r in json.loads((base / "results.json").read_text())}
    for pair in range(1, PAIRS + 1):
        honest = results[f"p{pair}_honest"]
        assert honest["score"] == 7, [(c["id"], c["status"], c["message"]) for c in honest["checks"]]
        assert results[f"p{pair}_hog"]["score"] == 0


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="two graders as root, each with a private /run, need root and unshare")
def test_two_graders_on_one_host_never_touch_each_others_sandboxes(tmp_path_factory):
    if not reachable():
        pytest.skip("another uid cannot run this Python")
    tmp_path = tmp_path_factory.mktemp("g")  # short: a forkserver's socket lives under TMPDIR
    graders = []
    for name in ("host", "container"):
        base = _base(tmp_path / name)
        for copy in range(6):
            shutil.copytree(CONTROL, base / "corpus" / f"{name}_{copy}")
        private_run = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                       'mount -t tmpfs tmpfs /run && exec "$@"', "sh")
        graders.append((base, _grade("root", base, base / "corpus", prefix=private_run)))
    for base, grader in graders:
        output, _ = grader.communicate(timeout=900)
        assert grader.returncode == 0, output[-3000:]
        results = json.loads((base / "results.json").read_text())
        assert len(results) == 6
        for result in results:
            assert result["score"] == 7, [(c["id"], c["message"]) for c in result["checks"]]
            assert "uid" in result["isolation"], (result["isolation"], result["isolation_missing"])
