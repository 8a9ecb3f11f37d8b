"""``grader audit``: deterministic mutants, every operator, weak vs real rubric, variants, JSON."""

from __future__ import annotations

import json
import textwrap

from conftest import REPO, run_grader
from grader.audit import mutate
from grader.audit.run import AuditOptions, generate, run_audit

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


def test_mutants_are_deterministic_and_sampling_is_seeded():
    first, total = generate("proj1_filtering")
    again, _ = generate("proj1_filtering")
    assert [(m.id, m.source) for m in first] == [(m.id, m.source) for m in again]
    assert total == len(first) > 50
    sample_a, _ = generate("proj1_filtering", max_mutants=20, seed=7)
    sample_b, _ = generate("proj1_filtering", max_mutants=20, seed=7)
    sample_c, _ = generate("proj1_filtering", max_mutants=20, seed=8)
    assert [m.id for m in sample_a] == [m.id for m in sample_b] != [m.id for m in sample_c]
    assert len(sample_a) == 20


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
    assert report.tally.strict_score < 0.3
    assert report.tally.equivalent > report.tally.mutants / 2
    assert all(o.diff.startswith("---") for o in report.outcomes)


def test_the_real_filtering_rubric_catches_95_percent_and_its_variants_pass():
    report = run_audit("proj1_filtering", AuditOptions(workers=2, max_mutants=40, seed=1))
    assert report.tally.mutants == 40 and report.sampled
    assert report.tally.score >= 0.95, report.summary()
    assert report.tally.strict_score >= 0.6, report.summary()
    assert len(report.variants) >= 2 and all(v.passed for v in report.variants), report.variants


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
