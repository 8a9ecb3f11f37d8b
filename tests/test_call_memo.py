"""An identical student call runs once per grading; timing and training calls always run."""

from __future__ import annotations

import numpy as np

from grader import grading
from grader.intake import submission
from grader.checks import KINDS
from grader.prepare.expected import prepare
from grader.rubric.load import load_rubric
from grader.sandbox import CallOutcome, Each, Ref, Step
from grader.sandbox.memo import CallMemo, request_key

CASE = ("          image: {random: {shape: [12, 14, 3], seed: %d}}\n"
        "          filter: {kernel: {name: box, size: 3}}")
RUBRIC = """
assignment: proj1_filtering
reference: reference.filtering
checks:
""" + "".join(f"""
  - id: {check_id}
    name: {check_id}
    kind: numeric
    target: student_code:my_imfilter
    points: 1
    compare: {{region: interior, margin_from: filter, atol: 1.0e-4}}
    cases:
      - args:
{CASE % seed}
""" for check_id, seed in (("first", 1), ("same_input", 1), ("other_input", 2)))

STUDENT = """
import numpy as np
from scipy import ndimage


def my_imfilter(image, filter):
    print("called")
    return np.stack([ndimage.correlate(image[..., c], filter, mode="mirror")
                     for c in range(image.shape[2])], axis=2)
"""


def _grade(tmp_path, reuse_calls: bool):
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    (tmp_path / "student").mkdir(exist_ok=True)
    (tmp_path / "student" / "student_code.py").write_text(STUDENT)
    rubric, rubric_hash = load_rubric(tmp_path / "rubric.yaml")
    with submission.load(tmp_path / "student", rubric.modules) as loaded:
        result = grading.grade(loaded, rubric, rubric_hash, prepare(rubric, rubric_hash),
                               reuse_calls=reuse_calls)
    return {c.id: c for c in result.checks}


def test_a_second_identical_call_reuses_the_first_outcome(tmp_path):
    checks = _grade(tmp_path, reuse_calls=True)
    assert all(c.score == 1 for c in checks.values()), {c.id: c.message for c in checks.values()}
    assert checks["same_input"].calls_reused == 1
    assert "calls_reused" not in checks["first"].details
    assert "calls_reused" not in checks["other_input"].details
    ran = sum(c.stdout.count("called") for c in checks.values())
    assert ran == 2  # three checks, two distinct inputs


def test_without_the_memo_every_call_runs(tmp_path):
    checks = _grade(tmp_path, reuse_calls=False)
    assert sum(c.stdout.count("called") for c in checks.values()) == 3
    assert not any("calls_reused" in c.details for c in checks.values())


def test_the_key_is_the_bytes_sent():
    a = np.arange(6.0).reshape(2, 3)
    key = request_key("m", [Step("f", [a, 3])], None)
    assert key == request_key("m", [Step("f", [a.copy(), 3])], None)
    for other in ([a.astype(np.float32), 3], [a.reshape(3, 2), 3], [a + 1e-12, 3], [a, 4],
                  [Each(a), 3]):
        assert request_key("m", [Step("f", other)], None) != key
    assert request_key("m", [Step("f", [a, 3])], [Ref(0, 0)]) != key
    assert request_key("m", [Step("g", [a, 3])], None) != key
    assert request_key("m", [Step("f", [a, 3], module="n")], None) != key


class _Counting:
    """A session stand-in that counts runs and answers with a fixed status."""

    def __init__(self, status: str):
        self.status, self.runs = status, 0

    def run(self, module, steps, returns, timeout_s, cpu_limit_s=None):
        self.runs += 1
        return CallOutcome(self.status, outputs=[np.ones(2)], stdout="printed", seconds=1.5)


def test_only_outcomes_the_student_decided_are_kept():
    for status, runs in (("returned", 1), ("raised", 1), ("timeout", 2), ("crashed", 2),
                         ("memory", 2)):
        session = _Counting(status)
        memo = CallMemo(session)
        first = memo.call("m", "f", [np.ones(2)], 5)
        second = memo.call("m", "f", [np.ones(2)], 5)
        assert session.runs == runs, status
        if runs == 1:
            assert second.stdout == "" and second.seconds == 0 and first.stdout == "printed"
            second.outputs[0][0] = 99  # a copy: the memo's own outcome is unchanged
            assert memo.call("m", "f", [np.ones(2)], 5).outputs[0][0] == 1


def test_timing_and_training_always_run_their_calls():
    fresh = {name for name, kind in KINDS.items() if kind.fresh_calls}
    assert fresh == {"timing", "training"}


def test_a_stored_outcome_reads_back_as_it_was_in_either_format():
    """Stored outcomes keep their arrays after the JSON (a newline apart); those stored before,
    with the arrays inside the JSON, still read back."""
    import json

    from grader.sandbox.memo import decode_outcome, encode_outcome

    outcome = CallOutcome("returned", [np.arange(6.0).reshape(2, 3), {"n": 3}, [np.ones(2)]],
                          True, stdout="line one\nline two\n", seconds=0.5)
    text = encode_outcome(outcome)
    head, packed = text.split("\n")
    assert json.loads(head)["stdout"] == "line one\nline two\n" and packed
    for stored in (text, json.dumps({**json.loads(head), "arrays": packed})):
        back = decode_outcome(stored)
        assert back.stdout == outcome.stdout and back.returned_tuple
        assert np.array_equal(back.outputs[0], outcome.outputs[0]) and back.outputs[1] == {"n": 3}
        assert np.array_equal(back.outputs[2][0], np.ones(2))
    plain = CallOutcome("raised", error="ValueError: no")
    assert "\n" not in encode_outcome(plain) and decode_outcome(encode_outcome(plain)).error == "ValueError: no"
