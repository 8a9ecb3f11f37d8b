"""``property``: the returned value must have named properties, not equal a reference exactly.

Used where many answers are right (a Harris detector's exact responses, a
descriptor's exact values): the rubric names the properties to hold and
their parameters::

    kind: property
    options:
      output: descriptors            # how to read the return value
      properties:
        unit_norm: {}
        near_reference: {min_cosine: 0.8}
      reference_kwargs: {power: 1}   # passed to the reference for expected outputs

Properties and readers live in :mod:`grader.checks._feature_properties`. A
property that needs a *variant* call (e.g. the same image brightened) gets it
in the same sandbox request. A case passes when every property holds;
quirks the reader normalised (e.g. ``(k, 1, 128)`` descriptors) are appended
to the message as notes.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from grader.checks.base import CheckKind, Verdict
from grader.checks._feature_outputs import OutputProblem
from grader.checks._feature_properties import PROPERTIES, READERS, VALUES_READ, Observed
from grader.checks._options import KindOptions
from grader.prepare.prepared import PreparedCase, PreparedCheck, as_outputs
from grader.rubric.model import Check, LocatedError
from grader.sandbox import CallOutcome
from grader.sandbox.session import Ref, Step
from grader.checks import KINDS


class PropertyOptions(KindOptions):
    """The options of a ``property`` check."""

    output: str
    """how the returned value is read: ``interest_points``, ``descriptors`` or ``matches``"""
    properties: dict[str, dict[str, Any]]
    """property name → its parameters, in the order they are judged; a parameter left out
    takes its default (:mod:`grader.checks._feature_properties`)"""
    reference_kwargs: dict[str, Any] = {}
    """keyword arguments of the reference's call, where a property compares with its outputs"""

    @field_validator("output")
    @classmethod
    def _known_reader(cls, output: str) -> str:
        if output not in READERS:
            raise ValueError(f"output must be one of {sorted(READERS)}")
        return output

    @field_validator("properties", mode="before")
    @classmethod
    def _known_properties(cls, properties: Any) -> Any:
        """Known properties and parameters; each property's parameters with its defaults."""
        if not isinstance(properties, dict) or not properties:
            raise ValueError("properties must be a non-empty mapping of property name to "
                             "parameters")
        for name, params in properties.items():
            if name not in PROPERTIES:
                raise LocatedError((name,), f"unknown property {name!r}; choose one of "
                                   f"{sorted(PROPERTIES)}", relative=True)
            if not isinstance(params, dict | None):
                raise LocatedError((name,), f"property {name!r} takes a mapping of its "
                                   "parameters", relative=True)
            extra = sorted(set(params or {}) - set(PROPERTIES[name].defaults))
            if extra:
                raise LocatedError((name, extra[0]), f"property {name!r} takes no "
                                   f"parameter(s) {extra}", relative=True)
        return {name: {**PROPERTIES[name].defaults, **(params or {})}
                for name, params in properties.items()}


@KINDS.register
class PropertyCheck(CheckKind):
    name = "property"
    options_model = PropertyOptions

    @classmethod
    def expected_outputs(cls, module: Any, function: str, check: Check, args: list[Any]) -> list[Any]:
        """The reference's outputs (with ``reference_kwargs``) if a property needs them."""
        options = PropertyOptions.of(check)
        if not any(PROPERTIES[n].needs_reference for n in options.properties):
            return []
        return as_outputs(getattr(module, function)(*args, **options.reference_kwargs))

    def invoke(self, case: PreparedCase, prepared: PreparedCheck, context) -> CallOutcome:
        check, options = prepared.check, PropertyOptions.of(prepared.check)
        variants = [_variant_args(case, name, params) for name, params in options.properties.items()
                    if PROPERTIES[name].variant is not None]
        if not variants:
            return context.session.call(check.module, check.function, case.args, context.timeout_s)
        steps = [Step(check.function, args) for args in [case.args] + variants]
        width = VALUES_READ[options.output]
        returns = [Ref(i, k) for i in range(len(steps))
                   for k in ([None] if width is None else range(width))]
        outcome = context.session.run(check.module, steps, returns, context.timeout_s * len(steps))
        outcome.returned_tuple = width is not None  # each call's values, one call after another
        return outcome

    def judge(self, outputs: list[Any], case: PreparedCase, prepared: PreparedCheck,
              outcome: CallOutcome) -> Verdict:
        options = PropertyOptions.of(prepared.check)
        varied = [name for name in options.properties if PROPERTIES[name].variant]
        args = dict(zip(case.arg_names, case.args))
        calls = _per_call(outputs, VALUES_READ[options.output]) if varied else [outputs]
        try:
            value, notes = READERS[options.output](calls[0], outcome.returned_tuple, args)
        except OutputProblem as exc:
            return Verdict(False, str(exc))
        observed = Observed(value, case.expected, dict(zip(varied, calls[1:])), args)
        problems: list[str] = []
        details: dict[str, Any] = {}
        for name, params in options.properties.items():
            problem, numbers = PROPERTIES[name].test(observed, params)
            details |= numbers
            if problem:
                problems.append(problem)
        return Verdict(not problems, "; ".join(problems), details | {"notes": notes})


def _per_call(outputs: list[Any], width: int | None) -> list[list[Any]]:
    """Split the values of several calls (``width`` each; ``None``: one whole value) per call."""
    if width is None:
        return [[value] for value in outputs]
    return [outputs[i : i + width] for i in range(0, len(outputs), width)]


def _variant_args(case: PreparedCase, name: str, params: dict[str, Any]) -> list[Any]:
    variant = PROPERTIES[name].variant
    assert variant is not None  # only properties with a variant call get here
    args = variant(dict(zip(case.arg_names, case.args)), params)
    return [args[n] for n in case.arg_names]
