"""Check kinds whose sandbox side is a trusted driver and whose verdict is a list of named rules.

``architecture`` and ``datasets`` work the same way: one request runs a
driver function (``drivers.<module>.<function>(student module, config JSON,
*case arguments)``) that returns a plain description of what the student's
code built; this trusted side checks the rules the rubric lists::

    options:
      require: {rule: parameter, ...}
      ...                          # the kind's own options (its ``defaults``)

A case earns the fraction of the listed rules it meets; the message names
those it breaks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from grader.checks.base import CheckKind, Verdict
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.rubric.model import Check
from grader.sandbox import CallOutcome
from grader.sandbox.session import Step


def require_problem(options: dict[str, Any], rules: Iterable[str]) -> str | None:
    """Why ``options["require"]`` is not a non-empty mapping of known rule names, or ``None``."""
    require = options.get("require")
    if not isinstance(require, dict) or not require:
        return "require must be a non-empty mapping of rule name to its parameter"
    unknown = set(require) - set(rules)
    if unknown:
        return f"unknown rule(s) {sorted(unknown)}; choose from {sorted(rules)}"
    return None


class DriverRulesCheck(CheckKind):
    """Base of the rule-based kinds: options, the driver request, the fraction-of-rules verdict."""

    driver: str = ""  # module of the sandbox's drivers package, e.g. "drivers.cnn_inspection"
    driver_function: str = ""
    defaults: dict[str, Any] = {}  # the kind's options besides ``require``, sent to the driver
    rules: Mapping[str, Callable[..., str | None]] = {}

    @classmethod
    def options_problem(cls, options: dict[str, Any]) -> str | None:
        return (cls.unknown_options(options, set(cls.defaults) | {"require"})
                or require_problem(options, cls.rules)
                or cls.own_options_problem({**cls.defaults, **options}))

    @classmethod
    def own_options_problem(cls, options: dict[str, Any]) -> str | None:
        """The kind's checks of its own options (defaults filled in)."""
        return None

    @classmethod
    def expected_outputs(cls, module: Any, function: str, check: Check, args: list[Any]) -> list[Any]:
        """Nothing to compute ahead: the rules are checked on what the driver observed."""
        return []

    @classmethod
    def options_of(cls, prepared: PreparedCheck) -> dict[str, Any]:
        return {**cls.defaults, **prepared.check.options}

    def invoke(self, case: PreparedCase, prepared: PreparedCheck, context) -> CallOutcome:
        options = self.options_of(prepared)
        config = json.dumps({k: options[k] for k in self.defaults})
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
