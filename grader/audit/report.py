"""The audit's result: counts, the mutation score per rubric and per function, survivors, variants.

```score`` is ``killed / (mutants - equivalent - errors)``: a mutant killed by
a time limit counts as killed (it lost points) and is also counted under
``timeouts``; an equivalent-looking survivor returns exactly the reference's
outputs on every case (exactly, or up to float rounding: same
dtype and shape, within 64 ulps), so no case could catch it and it leaves the
denominator; a mutant whose grading task crashed (a harness problem, not a
verdict) leaves it too and is listed under ``errors``.

Mutants on lines the reference marks ``# audit: free`` (choices the
assignment leaves to students) are correct programs, not faults: they are in
neither ``mutants`` nor the score, and like the variants they should keep
full marks; ``free_lost`` lists those that did not (the rubric would fail a
correct student). ``generated`` and ``free_generated`` count the scored and
free mutants that exist; a sampled audit grades fewer of either.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from grader.audit.wrong import WrongOutcome

KILLED = ("killed", "timeout")


@dataclass
class MutantOutcome:
    """One mutant: where it changed the reference, and what the rubric made of it."""

    id: str
    module: str
    function: str
    operator: str
    line: int
    description: str
    diff: str
    status: str  # killed | timeout | survived | equivalent | error | free | free_lost
    score: float
    max_score: float
    detail: str = ""
    rounding: bool = False  # equivalent only up to float rounding
    free: str = ""  # the reason, for a mutant on a line marked ``# audit: free``
    check_seconds: dict[str, float] = field(default_factory=dict)  # check id → seconds grading it


@dataclass
class VariantOutcome:
    """One correct variant graded as a student submission; ``lost`` names the checks short of full marks."""

    name: str
    score: float
    max_score: float
    lost: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.lost and self.score >= self.max_score > 0


@dataclass
class Tally:
    mutants: int = 0
    killed: int = 0
    timeouts: int = 0
    survived: int = 0
    equivalent: int = 0
    rounding: int = 0
    errors: int = 0
    free: int = 0
    free_lost: int = 0

    def add(self, outcome: MutantOutcome) -> None:
        if outcome.free:
            self.free += 1
            self.free_lost += outcome.status != "free"
            return
        self.mutants += 1
        self.killed += outcome.status in KILLED
        self.timeouts += outcome.status == "timeout"
        self.survived += outcome.status == "survived"
        self.equivalent += outcome.status == "equivalent"
        self.rounding += outcome.rounding
        self.errors += outcome.status == "error"

    @property
    def score(self) -> float:
        scored = self.mutants - self.equivalent - self.errors
        return self.killed / scored if scored else 1.0

    @property
    def strict_score(self) -> float:
        """``killed / (mutants - errors)``: equivalent-looking mutants count as survivors.

        Equivalence is judged on the rubric's own cases, so a weak rubric makes
        most mutants look equivalent and ``score`` alone flatters it; a large gap
        between the two scores is the sign.
        """
        scored = self.mutants - self.errors
        return self.killed / scored if scored else 1.0


@dataclass
class AuditReport:
    assignment: str
    rubric_hash: str
    generated: int  # scored mutants that exist (a sample grades fewer)
    free_generated: int  # free mutants that exist (a sample grades one per free line)
    seed: int
    sampled: bool
    check_timeout_s: float
    outcomes: list[MutantOutcome]
    variants: list[VariantOutcome]
    runtime_s: float
    workers: int
    reference_modules: dict[str, str]
    left_out: dict[str, str] = field(default_factory=dict)  # check id → why the audit skips it
    wrong: list[WrongOutcome] = field(default_factory=list)  # wrong_programs.yaml, graded

    @property
    def tally(self) -> Tally:
        tally = Tally()
        for outcome in self.outcomes:
            tally.add(outcome)
        return tally

    def by(self, attribute: str) -> dict[str, Tally]:
        groups: dict[str, Tally] = defaultdict(Tally)
        for outcome in self.outcomes:
            groups[getattr(outcome, attribute)].add(outcome)
        return dict(sorted(groups.items()))

    @property
    def survivors(self) -> list[MutantOutcome]:
        return [o for o in self.outcomes if o.status == "survived"]

    @property
    def free_reasons(self) -> dict[str, list[MutantOutcome]]:
        """Free mutants grouped by the reason on their line, in source order."""
        groups: dict[str, list[MutantOutcome]] = defaultdict(list)
        for outcome in self.outcomes:
            if outcome.free:
                groups[outcome.free].append(outcome)
        return dict(groups)

    @property
    def free_lost(self) -> list[MutantOutcome]:
        """Free choices the rubric punished: correct programs that lost points."""
        return [o for o in self.outcomes if o.free and o.status != "free"]

    @property
    def passed(self) -> bool:
        """No correct variant and no free choice lost a point, and every wrong program lost
        points on the checks about what it breaks."""
        return (all(v.passed for v in self.variants) and not self.free_lost
                and all(w.caught for w in self.wrong))

    @property
    def wrong_caught(self) -> int:
        return sum(w.caught for w in self.wrong)

    @property
    def check_seconds(self) -> dict[str, float]:
        """Seconds spent grading each check, summed over the mutants, most first: where the time goes."""
        totals: dict[str, float] = defaultdict(float)
        for outcome in self.outcomes:
            for check, seconds in outcome.check_seconds.items():
                totals[check] += seconds
        return {check: round(seconds, 2) for check, seconds in sorted(totals.items(), key=lambda kv: -kv[1])}

    @property
    def variants_passed(self) -> int:
        return sum(v.passed for v in self.variants)

    def to_dict(self) -> dict:
        tally = self.tally

        def counts(t: Tally) -> dict:
            return {**asdict(t), "score": round(t.score, 4), "strict_score": round(t.strict_score, 4)}

        return {
            "assignment": self.assignment, "rubric_hash": self.rubric_hash,
            "mutants": tally.mutants, "generated": self.generated,
            "free_generated": self.free_generated, "sampled": self.sampled,
            "seed": self.seed, "killed": tally.killed, "survived": tally.survived,
            "equivalent": tally.equivalent, "equivalent_up_to_rounding": tally.rounding,
            "timeouts": tally.timeouts, "errors": tally.errors,
            "free": tally.free, "free_lost": [asdict(o) for o in self.free_lost],
            "score": round(tally.score, 4), "strict_score": round(tally.strict_score, 4),
            "check_timeout_s": self.check_timeout_s,
            "runtime_s": round(self.runtime_s, 1), "workers": self.workers,
            "reference_modules": self.reference_modules, "left_out_checks": self.left_out,
            "by_function": {name: counts(t) for name, t in self.by("function").items()},
            "by_operator": {name: counts(t) for name, t in self.by("operator").items()},
            "survivors": [asdict(o) for o in self.survivors],
            "equivalent_mutants": [asdict(o) for o in self.outcomes if o.status == "equivalent"],
            "free_lines": [{"reason": reason, "module": group[0].module, "function": group[0].function,
                            "lines": sorted({o.line for o in group}), "mutants": len(group),
                            "lost_points": sum(o.status != "free" for o in group)}
                           for reason, group in self.free_reasons.items()],
            "check_seconds": self.check_seconds,
            "results": [{**{k: v for k, v in asdict(o).items() if k not in ("diff", "check_seconds")},
                         "seconds": round(sum(o.check_seconds.values()), 3)} for o in self.outcomes],
            "variants": [{**asdict(v), "passed": v.passed} for v in self.variants],
            "variants_passed": self.variants_passed,
            "wrong_programs": [{**asdict(w), "caught": w.caught} for w in self.wrong],
            "wrong_programs_caught": self.wrong_caught,
        }

    def write_json(self, path: Path) -> None:
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(self.to_dict(), indent=2))
        temporary.replace(path)

    def render(self, out: Console, show_survivors: bool = False) -> None:
        """The per-function table, the variants, a one-line summary; survivors' diffs if asked."""
        table = Table(title=f"mutation audit — {self.assignment}", title_justify="left")
        for column in ("function", "mutants", "killed", "timeout", "survived", "equiv.", "free",
                       "score", "strict"):
            table.add_column(column, justify="left" if column == "function" else "right",
                             no_wrap=True, min_width=max(len(column), 6))
        for name, tally in [*self.by("function").items(), ("all", self.tally)]:
            style = "bold" if name == "all" else ""
            table.add_row(escape(name), *map(str, (tally.mutants, tally.killed, tally.timeouts,
                                                   tally.survived, tally.equivalent, tally.free)),
                          f"{tally.score:.1%}", f"{tally.strict_score:.1%}", style=style)
        out.print(table)
        if self.variants:
            variants = Table(title="correct variants", title_justify="left")
            for column in ("variant", "points", "lost"):
                variants.add_column(column)
            for variant in self.variants:
                mark = "[green]" if variant.passed else "[red]"
                variants.add_row(escape(variant.name), f"{mark}{variant.score:g}/{variant.max_score:g}[/]",
                                 escape(", ".join(variant.lost) or "—"))
            out.print(variants)
        if self.wrong:
            table = Table(title="wrong programs (each must lose the checks about what it breaks)",
                          title_justify="left")
            for column in ("program", "breaks", "points", "kept (not caught)"):
                table.add_column(column)
            for program in self.wrong:
                mark = "[green]" if program.caught else "[red]"
                table.add_row(escape(program.name), escape(program.breaks),
                              f"{program.score:g}/{program.max_score:g}",
                              f"{mark}{escape(', '.join(program.kept) or program.error or '—')}[/]")
            out.print(table)
        for reason, group in self.free_reasons.items():
            lines = ", ".join(map(str, sorted({o.line for o in group})))
            lost = sum(o.status != "free" for o in group)
            mark = f"[red]{lost} lost points[/]" if lost else "[green]all full marks[/]"
            out.print(f"free choice: {len(group)} mutants of {escape(group[0].function)}, "
                      f"line {lines} ({escape(reason)}): {mark}")
        if show_survivors:
            shown = (self.survivors + [o for o in self.outcomes if o.status == "equivalent"]
                     + self.free_lost)
            for outcome in shown:
                out.rule(f"{outcome.status} {outcome.id}: {outcome.function}, line {outcome.line}, "
                         f"{outcome.operator} ({escape(outcome.description)})", style="yellow")
                out.print(escape(outcome.detail))
                out.print(Syntax(outcome.diff, "diff", theme="ansi_dark", background_color="default"))
        out.print(self.summary())

    def _others(self) -> str:
        """The summary's clauses on the correct variants and the wrong programs."""
        text = (f"; correct variants: {self.variants_passed}/{len(self.variants)} with full marks"
                if self.variants else "; no correct variants graded")
        if self.wrong:
            passing = [w.name for w in self.wrong if not w.caught]
            text += (f"; wrong programs: {self.wrong_caught}/{len(self.wrong)} caught"
                     + (f" (not: {', '.join(passing)})" if passing else ""))
        return text

    def summary(self) -> str:
        tally = self.tally
        sample = (f"a seeded sample (seed {self.seed}) of {tally.mutants} of "
                  f"{self.generated} mutants" if self.sampled
                  else f"all {tally.mutants} mutants")
        if not self.outcomes and not self.generated:
            return f"{self.assignment}: no mutants graded" + self._others() + \
                f"; {self.runtime_s:.0f} s on {self.workers} worker(s)"
        per_line = (f" (one per free line, of {self.free_generated})"
                    if tally.free < self.free_generated else "")
        free = (f"; free choices: {tally.free - tally.free_lost}/{tally.free} with full marks{per_line}"
                if tally.free else "")
        errors = f", {tally.errors} could not be graded" if tally.errors else ""
        left_out = "".join(f"; check {check} left out ({why})" for check, why in self.left_out.items())
        variants = self._others()
        return (f"{self.assignment}: {sample}: {tally.killed} killed ({tally.timeouts} by a time limit), "
                f"{tally.survived} survived, {tally.equivalent} equivalent-looking "
                f"({tally.rounding} of them up to float rounding){errors}; "
                f"mutation score {tally.score:.1%} (strict {tally.strict_score:.1%}){variants}{free}; "
                f"check time limit capped at "
                f"{self.check_timeout_s:g} s for mutants{left_out}; {self.runtime_s:.0f} s on {self.workers} worker(s)")
