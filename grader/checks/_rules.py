"""Check kinds whose sandbox side is a trusted driver and whose verdict is a list of named rules.

``architecture`` and ``datasets`` work the same way: one request runs a
driver function (``drivers.<module>.<function>(student module, config JSON,
*case arguments)``) that returns a plain description of what the student's
code built; this trusted side checks the rules the rubric lists::

    options:
      require: {rule: parameter, ...}
      ...                          # the kind's own options (its model's other fields)

A case earns the fraction of the listed rules it meets; the message names
those it breaks.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any, ClassVar

from pydantic import field_validator

from grader.checks._options import KindOptions
from grader.checks.base import CheckKind, Verdict
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.rubric.model import Check, LocatedError
from grader.sandbox import CallOutcome
from grader.sandbox.session import Step


class RuleOptions(KindOptions):
    """The options of a rule-based kind: ``require``, and the kind's own, which go to the driver."""

    rules: ClassVar[Collection[str]] = ()  # the names ``require`` may list (each kind's own)

    require: dict[str, Any]
    """rule name → its parameter (``true`` for a rule without one): the rules each case is
    judged by, a fraction of its credit each"""

    @field_validator("require")
    @classmethod
    def _known_rules(cls, require: dict[str, Any]) -> dict[str, Any]:
        if not require:
            raise ValueError("require must be a non-empty mapping of rule name to its parameter")
        unknown = sorted(set(require) - set(cls.rules))
        if unknown:
            raise LocatedError((unknown[0],), f"unknown rule(s) {unknown}; choose from "
                               f"{sorted(cls.rules)}", relative=True)
        return require

    def driver_config(self) -> str:
        """The JSON the driver reads: every option but ``require``, in the model's order."""
        return json.dumps(self.model_dump(exclude={"require"}))


class DriverRulesCheck(CheckKind):
    """Base of the rule-based kinds: the driver request and the fraction-of-rules verdict."""

    driver: str = ""  # module of the sandbox's drivers package, e.g. "drivers.cnn_inspection"
    driver_function: str = ""
    options_model: ClassVar[type[RuleOptions]] = RuleOptions

    @classmethod
    def expected_outputs(cls, module: Any, function: str, check: Check, args: list[Any]) -> list[Any]:
        """Nothing to compute ahead: the rules are checked on what the driver observed."""
        return []

    def invoke(self, case: PreparedCase, prepared: PreparedCheck, context) -> CallOutcome:
        config = self.options_model.of(prepared.check).driver_config()
        step = Step(self.driver_function, [prepared.check.module, config, *case.args], module=self.driver)
        return context.session.run(self.driver, [step], None, context.timeout_s)

    @staticmethod
    def verdict(broken: list[str], rule_count: int, details: dict[str, Any]) -> Verdict:
        """Pass when no rule is broken; otherwise credit for the fraction met, and the reasons."""
        met = 1 - len(broken) / rule_count
        details = {**details, "rules_met": round(met, 4)}
        if not broken:
            return Verdict(True, details=details)
        return Verdict(False, "; ".join(broken), details, credit=met)
