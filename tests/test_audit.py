"""``grader audit``: deterministic mutants, every operator, weak vs real rubric, variants, JSON."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from conftest import REPO, run_grader
from grader import grading
from grader.intake import submission
from grader.audit import mutate, targets
from grader.audit.run import AuditOptions, cheapest_first, generate, run_audit
from grader.errors import GraderError
from grader.prepare.expected import prepare
from grader.rubric.load import Rubric, load_rubric

pytestmark = pytest.mark.slow  # over 10 s, or sharing a fixture that is (pytest -m 'not slow' skips it)

TINY = textwrap.dedent('''
    """Module docstring."""
    import numpy as np

    SCALE = 3


    def target(a, b, k=2):
        """Docstring: not mutated."""
        if a.ndim != 2:
            raise ValueError("a must be 2-D")
        c = a + b * SCALE
        c = np.clip(c, 0, 1)
        d = c[1:, ::-1]
        flag = a.shape[0] < k and True
        for i in range(0, k):
            c += d.sum(axis=0)[i]
        e = -c.T
        return e.transpose(0, 2, 1), d[0, 1]


    def untouched(a):
        return a + 1
''')


def test_every_operator_appears_on_a_tiny_module():
    mutants = mutate.mutants_of(TINY, "student_code", {"target"})
    assert {m.operator for m in mutants} == set(mutate.OPERATORS)
    assert {m.function for m in mutants} == {"target", "<module>"}  # SCALE is read by target
    for m in mutants:
        changed = [line for line in m.diff().splitlines()
                   if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
        assert len(changed) == 2, m.diff()  # one line out, one line in
        assert "raise ValueError" not in "".join(changed)
        assert "Docstring" not in "".join(changed)
        compile(m.source, m.id, "exec")
    descriptions = {m.description for m in mutants}
    assert {"+ → -", "< → <=", "reversing step ::-1 dropped", "axis=0 → 1", ".T removed",
            "unary minus removed", "last two transpose axes swapped", "indices [i, j] → [j, i]",
            "call clip(…) replaced by its first argument", "statement removed"} <= descriptions


FREE = textwrap.dedent('''
    import numpy as np


    def _check_image(image):
        if image.ndim != 2:
            raise ValueError("2-D only")
        return image.astype(float)


    def smooth(image, sigma=0.8):  # audit: free — the smoothing width is the student's choice
        image = _check_image(image)
        width = 2 * sigma  # audit: free(constant) — (also a tuning choice)
        total = (image +
                 width)  # audit: free — only this line of a two-line expression
        return total * 3
''')


def test_lines_marked_free_give_free_mutants_with_their_reason():
    mutants = mutate.mutants_of(FREE, "student_code", {"smooth"})
    free = {(m.line, m.operator): m.free for m in mutants if m.free}
    assert free == {(11, "constant"): "the smoothing width is the student's choice",
                    (11, "sign"): "the smoothing width is the student's choice",
                    (13, "constant"): "(also a tuning choice)"}
    graded = {(m.line, m.operator) for m in mutants if not m.free}
    assert (13, "sign") in graded and (13, "arith") in graded  # free(constant) covers constants only
    graded_lines = {line for line, _ in graded}
    assert 14 in graded_lines  # the two-line expression is only half marked
    assert 16 in graded_lines
    # validation helpers are never mutated, called as a statement or assigned
    assert 12 not in graded_lines and not any(m.function == "_check_image" for m in mutants)


def test_an_unknown_operator_in_a_free_mark_is_refused():
    with pytest.raises(ValueError, match="unknown mutation operator"):
        mutate.free_lines("x = 1  # audit: free(constnat) — typo\n")


def test_class_targets_mutate_their_methods_and_bases_but_not_provided_helpers():
    generated = generate("proj4_cnn")
    functions = {m.function for m in generated.scored + generated.free}
    assert {"SimpleNet.__init__", "_BlockNet.__init__", "_feature_side", "_course_init",
            "custom_part1_trainer", "create_datasets", "conv_output_size"} <= functions
    assert "get_mean_std" not in functions  # the kit's utils.py gives students its code


def test_mutants_are_deterministic_and_sampling_is_seeded():
    first, again = generate("proj1_filtering"), generate("proj1_filtering")
    assert [(m.id, m.source) for m in first.scored] == [(m.id, m.source) for m in again.scored]
    assert first.scored_total == len(first.scored) > 50
    sample_a, sample_b, sample_c = (generate("proj1_filtering", max_mutants=20, seed=seed).scored
                                    for seed in (7, 7, 8))
    assert [m.id for m in sample_a] == [m.id for m in sample_b] != [m.id for m in sample_c]
    assert len(sample_a) == 20


def test_a_sample_grades_one_free_mutant_per_free_line():
    everything = generate("proj4_cnn", all_mutants=True)
    sample = generate("proj4_cnn", max_mutants=10, seed=3)
    free_lines = {(m.module, m.line) for m in everything.free}
    assert len(everything.free) == everything.free_total > len(free_lines)
    assert sorted((m.module, m.line) for m in sample.free) == sorted(free_lines)
    assert {m.id for m in sample.free} <= {m.id for m in everything.free}
    assert [m.id for m in sample.free] == [m.id for m in generate("proj4_cnn", max_mutants=10, seed=3).free]


def test_grading_can_stop_at_the_first_check_that_loses_a_point():
    rubric, digest = load_rubric(REPO / "tests" / "data" / "tiny_filtering.yaml")
    prepared = prepare(rubric, digest)[::-1]  # the asymmetric kernel (bob loses it) first
    with submission.load(REPO / "assignments" / "proj1_filtering" / "examples" / "bob_flipped_kernel",
                         rubric.modules) as loaded:
        full = grading.grade(loaded, rubric, digest, prepared)
        stopped = grading.grade(loaded, rubric, digest, prepared, stop_at_first_loss=True)
    assert [c.id for c in full.checks] == ["asymmetric", "identity"]
    assert full.checks[0].score == 0 and full.checks[1].score == 1
    assert [c.id for c in stopped.checks] == ["asymmetric"]


def test_checks_run_cheapest_first_but_after_what_they_require():
    def check(name: str, **extra) -> dict:
        return {"id": name, "name": name, "kind": "numeric", "target": "m:f", "points": 1,
                "cases": [{"args": {"a": {"value": 1}}}], **extra}

    rubric = Rubric.model_validate({"assignment": "a", "reference": "reference.filtering", "checks": [
        check("slow"), check("needs_slow", requires=["slow"]), check("fast"), check("medium")]})
    seconds = {"slow": 9.0, "needs_slow": 0.1, "fast": 0.2, "medium": 1.0}
    order = cheapest_first([{"id": i, "duration_s": t} for i, t in seconds.items()], rubric)
    assert order == ("fast", "medium", "slow", "needs_slow")


def test_a_weak_rubric_scores_low(tmp_path):
    weak = tmp_path / "weak.yaml"
    weak.write_text(textwrap.dedent("""
        assignment: proj1_filtering
        reference: reference.filtering
        checks:
          - id: identity_only
            name: "an identity kernel returns the input"
            kind: numeric
            target: student_code:my_imfilter
            points: 1
            cases:
              - args:
                  image: {random: {shape: [12, 15, 3], seed: 1}}
                  filter: {kernel: {name: identity, size: 3}}
    """))
    report = run_audit("proj1_filtering", AuditOptions(workers=2, max_mutants=40, seed=3,
                                                       variants=False, rubric_file=weak))
    # its cases cannot tell most mutants from the reference: they look equivalent, and the
    # strict score (equivalent-looking mutants counted as survivors) shows the weakness
    # the real rubric: >= 0.6 (next test); an identity case alone kills the mutants that stop
    # copying the input (0.30 and 0.40 of this sample as the reference's sources changed)
    assert report.tally.strict_score < 0.5, report.summary()
    assert report.tally.equivalent > report.tally.mutants / 2
    assert all(o.diff.startswith("---") for o in report.outcomes)


def test_the_real_filtering_rubric_catches_95_percent_and_its_variants_pass():
    report = run_audit("proj1_filtering", AuditOptions(workers=2, max_mutants=40, seed=1))
    assert report.tally.mutants == 40 and report.sampled
    assert report.tally.score >= 0.95, report.summary()
    assert report.tally.strict_score >= 0.6, report.summary()
    assert len(report.variants) >= 2 and all(v.passed for v in report.variants), report.variants


def test_a_free_mark_on_wrong_code_is_reported_as_a_false_failure(monkeypatch):
    # pretend the reference called the kernel flip of its FFT path a free choice: dropping it is
    # a real fault the rubric catches, so the audit must say the mark (or the rubric) is wrong
    source = targets.reference_source("filtering")
    line = "    flipped = kernel[::-1, ::-1].astype(padded.dtype)  # correlation = convolution, kernel flipped"
    assert line in source
    marked = source.replace(line, "    flipped = kernel[::-1, ::-1].astype(padded.dtype)  # audit: free(slice) — pretend")
    monkeypatch.setattr(targets.AuditTarget, "source", lambda self, stem: marked)
    report = run_audit("proj1_filtering", AuditOptions(workers=2, max_mutants=4, seed=0,
                                                       variants=False))
    assert report.tally.mutants == 4  # a sample: one mutant of the marked line, of its six
    assert report.tally.free == 1 < report.free_generated == 6
    assert report.free_lost and not report.passed
    assert all(o.free == "pretend" and "lost points" in o.detail for o in report.free_lost)
    data = report.to_dict()
    assert data["free"] == report.tally.free and data["free_lines"][0]["lost_points"] >= 1
    assert "free choices: 0/1 with full marks (one per free line, of 6)" in report.summary()


def test_cli_json_schema_and_backprop_variants(tmp_path):
    out = tmp_path / "audit.json"
    proc = run_grader("audit", "proj3_backprop", "--max-mutants", "12", "--seed", "2",
                      "-j", "2", "--json", str(out), "--show-survivors", "--fail-under", "0.9")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert {"assignment", "mutants", "killed", "survived", "equivalent", "timeouts", "score",
            "variants", "by_function", "survivors"} <= data.keys()
    assert data["assignment"] == "proj3_backprop" and data["mutants"] == 12
    assert data["killed"] + data["survived"] + data["equivalent"] + data["errors"] == 12
    assert 0.0 <= data["score"] <= 1.0
    assert all(row["seconds"] >= 0 for row in data["results"]) and sum(data["check_seconds"].values()) > 0
    assert set(data["check_seconds"]) <= {row["id"] for row in yaml.safe_load(
        (REPO / "assignments" / "proj3_backprop" / "rubric.yaml").read_text())["checks"]}
    assert list(data["check_seconds"].values()) == sorted(data["check_seconds"].values(), reverse=True)
    assert {v["name"] for v in data["variants"]} >= {"naive_loops", "im2col_matrix"}
    for variant in data["variants"]:
        assert {"name", "score", "max_score"} <= variant.keys()
        assert variant["score"] == variant["max_score"] > 0
    assert "mutation score" in proc.stdout


def test_unknown_assignment_is_one_sentence():
    proc = run_grader("audit", "proj9_unknown")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown assignment 'proj9_unknown'")


def test_a_kit_never_ships_variants():
    assert not any((REPO / "assignments").glob("*/variants"))


def test_the_cnn_variant_keeps_full_marks_outside_the_15scene_run():
    """A network other than the reference (5×5 kernels, Adam, its own statistics) loses nothing."""
    rubric, digest = load_rubric(REPO / "assignments" / "proj4_cnn" / "rubric.yaml")
    prepared = [p for p in prepare(rubric, digest) if p.check.id != "train_15scene"]
    (variant,) = targets.variant_folders("proj4_cnn")
    with submission.load(variant, rubric.modules) as loaded:
        result = grading.grade(loaded, rubric, digest, prepared)
    lost = [f"{c.id}: {c.message}" for c in result.checks if c.score < c.max_score]
    assert not lost and len(result.checks) == len(prepared)


FLIPPED_KERNEL = """
- name: {name}
  breaks: "flips the kernel"
  must_lose: [{check}]
  module: student_code
  source: |
    def my_imfilter(image, filter):
        return _reference_my_imfilter(image, filter[::-1, ::-1])
"""
# the same wrong program twice: once expected to lose the check that can see it, once one
# that cannot (symmetric kernels look the same flipped)
WRONG_PROGRAMS = (FLIPPED_KERNEL.format(name="convolution_for_correlation", check="asymmetric")
                  + FLIPPED_KERNEL.format(name="flipped_but_only_symmetric_cases",
                                          check="symmetric"))
TWO_CHECKS = """
assignment: proj1_filtering
reference: reference.filtering
checks:
  - id: symmetric
    name: "a box kernel"
    kind: numeric
    target: student_code:my_imfilter
    points: 1
    compare: {region: interior, margin_from: filter}
    cases:
      - args:
          image: {random: {shape: [12, 15, 3], seed: 1}}
          filter: {kernel: {name: box, size: 3}}
  - id: asymmetric
    name: "an asymmetric kernel"
    kind: numeric
    target: student_code:my_imfilter
    points: 1
    compare: {region: interior, margin_from: filter}
    cases:
      - args:
          image: {random: {shape: [12, 15, 3], seed: 2}}
          filter: {kernel: {name: random, size: [3, 5], seed: 3}}
"""


def test_a_wrong_program_that_keeps_the_points_of_its_check_is_reported(tmp_path):
    (tmp_path / "rubric.yaml").write_text(TWO_CHECKS)
    (tmp_path / "wrong_programs.yaml").write_text(WRONG_PROGRAMS)
    report = run_audit("proj1_filtering", AuditOptions(
        workers=2, mutants=False, variants=False, rubric_file=tmp_path / "rubric.yaml"))
    caught = {w.name: w for w in report.wrong}
    assert caught["convolution_for_correlation"].caught
    assert caught["flipped_but_only_symmetric_cases"].kept == ["symmetric"]
    assert not report.passed
    assert ("no mutants graded; no correct variants graded; wrong programs: 1/2 caught "
            "(not: flipped_but_only_symmetric_cases)") in report.summary()
    assert report.to_dict()["wrong_programs_caught"] == 1


def test_a_wrong_program_naming_an_unknown_check_is_one_sentence(tmp_path):
    from grader.audit import wrong
    from grader.rubric.load import load_rubric

    (tmp_path / "rubric.yaml").write_text(TWO_CHECKS)
    (tmp_path / "wrong_programs.yaml").write_text(WRONG_PROGRAMS.replace("[asymmetric]", "[asymetric]"))
    rubric, _ = load_rubric(tmp_path / "rubric.yaml")
    with pytest.raises(GraderError, match="convolution_for_correlation must lose asymetric, "
                                          "which the rubric does not have"):
        wrong.load(tmp_path, rubric)


@pytest.mark.parametrize("assignment", ["proj1_filtering", "proj2_features", "proj3_backprop"])
def test_the_course_rubrics_catch_every_wrong_program_in_their_library(assignment):
    report = run_audit(assignment, AuditOptions(workers=2, mutants=False, variants=False))
    assert len(report.wrong) >= 4
    assert all(w.caught for w in report.wrong), [(w.name, w.kept, w.error) for w in report.wrong]
