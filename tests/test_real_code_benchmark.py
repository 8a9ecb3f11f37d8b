"""The real-code benchmark's pieces (benchmarks/corpus_build.py, oracles.py, real_code.py) on
tiny synthetic submissions written here, so they run without the corpus or a network.

The real corpus is optional: ``GRADER_CORPUS`` names a folder built by corpus_build.py, and
the one test that reads it says so when it is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import corpus_build  # noqa: E402
import oracles  # noqa: E402
import real_code  # noqa: E402

LAYERS = textwrap.dedent('''
    import numpy as np

    def affine_forward(x, w, b):
        return x.reshape(x.shape[0], -1) @ w + b, (x, w)

    def affine_backward(dout, cache):
        x, w = cache
        dx = (dout @ w.T).reshape(x.shape)
        return dx, x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)

    def relu_forward(x):
        return np.maximum(x, 0), x

    def relu_backward(dout, cache):
        return dout * (cache > 0)
''')
# relu_backward lets everything through; affine_backward sums db over the wrong axis
BUGGY = LAYERS.replace("dout * (cache > 0)", "dout").replace("dout.sum(axis=0)", "dout.sum()")
PROJ3_RUBRIC = {
    "checks": [
        {"id": "affine", "kind": "gradient", "target": "layers:affine_forward", "points": 9,
         "options": {"backward": "affine_backward", "wrt": ["x", "w", "b"]},
         "cases": [{"args": {"x": {"normal": {"shape": [2, 3, 2], "seed": 1}},
                             "w": {"normal": {"shape": [6, 2], "seed": 2}},
                             "b": {"normal": {"shape": [2], "seed": 3}}}}]},
        {"id": "relu", "kind": "gradient", "target": "layers:relu_forward", "points": 3,
         "options": {"backward": "relu_backward", "wrt": ["x"]},
         "cases": [{"args": {"x": {"normal": {"shape": [3, 4], "seed": 4}}}}]},
    ]}
FILTER = textwrap.dedent('''
    import numpy as np

    def my_imfilter(image, filter):
        k, l = filter.shape
        padded = np.pad(image, ((k // 2, k // 2), (l // 2, l // 2), (0, 0)))
        out = np.zeros_like(image, dtype=np.float64)
        for i in range(k):
            for j in range(l):
                out += filter[i, j] * padded[i:i + image.shape[0], j:j + image.shape[1]]
        return out
''')
PROJ1_RUBRIC = {
    "compat": {"numpy_aliases": True},
    "checks": [{"id": "correlation", "kind": "numeric", "target": "student_code:my_imfilter",
                "points": 3, "compare": {"region": "interior", "margin_from": "filter",
                                         "atol": 1e-4, "rtol": 1e-4},
                "cases": [{"args": {"image": {"random": {"shape": [9, 11, 3], "seed": 5}},
                                    "filter": {"kernel": {"name": "random", "size": [3, 5],
                                                          "seed": 6}}}}]}]}


def _folder(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


def _rubric(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))  # args are positional
    return path


def _scores(results: list[oracles.OracleScore]) -> dict[str, float | None]:
    return {s.check_id: s.points for s in results}


# -- corpus_build ------------------------------------------------------------------


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_build_materialises_pinned_files_from_a_mirror(tmp_path):
    work = tmp_path / "work"
    (work / "assignment2" / "cs231n").mkdir(parents=True)
    (work / "assignment2" / "cs231n" / "layers.py").write_text("first = 1\n")
    _git("init", "-q", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "-qm", "one", cwd=work)
    pinned = _git("rev-parse", "HEAD", cwd=work)
    (work / "assignment2" / "cs231n" / "layers.py").write_text("second = 2\n")
    _git("commit", "-qam", "two", cwd=work)
    mirror = tmp_path / "mirror"
    _git("clone", "-q", "--bare", str(work), str(mirror / "someone+cs231n" / "repo"), cwd=tmp_path)
    entry = {"student": "s1", "repo": "someone/cs231n", "commit": pinned,
             "assignment": "proj3_backprop", "files": {"layers.py": "assignment2/cs231n/layers.py"}}
    out = tmp_path / "corpus"
    records = corpus_build.build([entry], out, mirror, clone=False)
    assert (out / "proj3_backprop" / "s1" / "layers.py").read_text() == "first = 1\n"
    assert records[0]["commit"] == pinned and (out / "corpus.json").is_file()
    missing = {**entry, "commit": "0" * 40}
    with pytest.raises(corpus_build.CorpusError, match="--clone"):
        corpus_build.build([missing], out, mirror, clone=False)


def test_manifest_pins_full_commits_and_rubric_modules():
    entries = corpus_build.load_manifest()
    assert len(entries) >= 10
    modules = {"proj3_backprop": {"layers.py"}, "proj1_filtering": {"student_code.py"},
               "proj2_features": {"student_harris.py", "student_sift.py",
                                  "student_feature_matching.py"}}
    for entry in entries:
        assert len(entry["commit"]) == 40 and int(entry["commit"], 16) >= 0
        assert modules[entry["assignment"]] <= set(entry["files"]), entry["student"]


# -- the oracles -------------------------------------------------------------------


def test_proj3_oracle_scores_right_wrong_and_consistent_gradients(tmp_path):
    rubric = _rubric(tmp_path, PROJ3_RUBRIC)
    right = _folder(tmp_path, "right", {"layers.py": LAYERS})
    buggy = _folder(tmp_path, "buggy", {"layers.py": BUGGY})
    assert _scores(oracles.proj3_oracle(rubric, right, sys.executable)) == {"affine": 9,
                                                                            "relu": 3}
    # affine: forward 3 + dx 2 + dw 2, db wrong (0); relu: forward 1, dx wrong (0)
    assert _scores(oracles.proj3_oracle(rubric, buggy, sys.executable)) == {"affine": 7,
                                                                            "relu": 1}


def test_gradient_credit_gives_half_a_share_to_the_students_own_numerical_gradient():
    truth = np.ones(3)
    wrong = np.full(3, 2.0)
    options = {**oracles.GRADIENT_DEFAULTS, "wrt": ["x"]}
    own = oracles.Replay(None, None, 0.0, [np.zeros(2)], [wrong], [wrong])
    assert oracles.gradient_credit(own, np.ones(2), [truth], options) == pytest.approx(1 / 3)
    row = oracles.Replay(None, None, 0.0, [np.ones(2)], [truth[None]], [None])  # (1, 3): the
    assert oracles.gradient_credit(row, np.ones(2), [truth], options) == 1      # course passes it
    column = oracles.Replay(None, None, 0.0, [np.ones(2)], [truth[:, None]], [None])
    assert oracles.gradient_credit(column, np.ones(2), [truth], options) == pytest.approx(1 / 3)
    raised = oracles.Replay("ValueError: no", None, 0.0, [], [], [])
    assert oracles.gradient_credit(raised, np.ones(2), [truth], options) == 0


def test_proj1_oracle_tells_correlation_from_convolution(tmp_path):
    rubric = _rubric(tmp_path, PROJ1_RUBRIC)
    right = _folder(tmp_path, "right", {"student_code.py": FILTER})
    flipped = _folder(tmp_path, "flipped",
                      {"student_code.py": FILTER.replace("filter[i, j]", "filter[-1 - i, -1 - j]")})
    assert _scores(oracles.proj1_oracle(rubric, right, sys.executable)) == {"correlation": 3}
    assert _scores(oracles.proj1_oracle(rubric, flipped, sys.executable)) == {"correlation": 0}


def test_runner_reports_import_errors_and_gives_old_numpy_names(tmp_path):
    old = _folder(tmp_path, "old", {"student_code.py": "import numpy as np\n"
                                                       "def f(x):\n    return x.astype(np.int)\n"})
    broken = _folder(tmp_path, "broken", {"student_code.py": "import no_such_module\n"})
    call = [oracles.Call("student_code:f", [np.arange(3.0)])]
    run, = oracles.replay(old, call, sys.executable, numpy_aliases=True)
    assert run.error is None and run.outputs[0].tolist() == [0, 1, 2]
    run, = oracles.replay(broken, call, sys.executable)
    assert "import student_code failed" in run.error


def test_top100_accuracy_follows_the_course_rule():
    truth = np.array([[100.0, 100.0, 110.0, 100.0], [400.0, 400.0, 400.0, 420.0]])
    x1, y1 = np.array([50.0, 200.0, 10.0]), np.array([50.0, 200.0, 300.0])  # half resolution
    x2, y2 = np.array([55.0, 200.0, 10.0]), np.array([50.0, 210.0, 300.0])
    matches = np.array([[0, 0], [1, 1], [2, 2]])
    # match 0 and 1 right; match 2's nearest ground truth is too far away
    assert oracles.top100_accuracy(matches, x1, y1, x2, y2, truth) == pytest.approx(2 / 3 * 0.03)
    assert oracles.top100_accuracy(np.zeros((0, 2)), x1, y1, x2, y2, truth) == 0


# -- real_code: both sides on one submission -------------------------------------------


@pytest.mark.slow  # over 2.5 s: pytest -m 'not slow' stays under 2 minutes
def test_real_code_prints_both_sides_and_the_totals(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    _folder(corpus / "proj3_backprop", "alice",
            {"layers.py": (REPO / "assignments/proj3_backprop/examples/alice_correct/layers.py").read_text()})
    assert real_code.main([str(corpus)]) == 0
    printed = capsys.readouterr().out
    assert "| alice | conv | 9 | 9 | 9 |" in printed
    assert "| proj3_backprop | 1 | 60 of 60 | 10 | 60 of 60 | 60 | 10 | 0 |" in printed


def test_the_real_corpus_when_named():
    corpus = os.environ.get("GRADER_CORPUS")
    if not corpus:
        pytest.skip("GRADER_CORPUS does not name a corpus folder (benchmarks/corpus_build.py "
                    "writes one); the real corpus is optional")
    for entry in corpus_build.load_manifest():
        folder = Path(corpus) / entry["assignment"] / entry["student"]
        assert all((folder / name).is_file() for name in entry["files"]), folder
