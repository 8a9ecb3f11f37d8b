"""The rubric reference page, generated from the models and the registered kinds (their
modules' docstrings and their options' models).

``python -m grader.rubric.reference_doc > docs/rubric-reference.md`` writes it; a test fails
when the page in ``docs/`` and the models disagree, so the reference cannot go stale.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from grader.checks import KINDS
from grader.checks.base import KindOptions
from grader.rubric import model

# the models a rubric file is made of, outermost first
SECTIONS: list[tuple[type[BaseModel], str]] = [
    (model.Rubric, "The top level of a rubric file."),
    (model.Defaults, "`defaults:` — limits every check inherits unless it sets its own."),
    (model.Calibration, "`defaults: {calibration: {...}}` — a call's limit follows what the "
                        "reference takes on its case on this machine (timed when the expected "
                        "outputs are computed, sealed with them): `min(timeout_s, max(floor_s, "
                        "factor × that))`, for the kinds whose request does the reference's work "
                        "(`numeric`). A kit's cases carry no time and get `timeout_s`."),
    (model.Probation, "`defaults: {probation: {...}}` — once a call of a function did not "
                      "finish within its limit (not because a crowded machine starved it), "
                      "its next call gets `max(floor_s, factor × the longest an earlier call "
                      "of it took to finish, reference_factor × the reference's time on the "
                      "case)` if that is shorter than its limit, until a call finishes. A "
                      "timeout under it says what it was given and why. Timing and training "
                      "checks keep their own limits."),
    (model.Compat, "`compat:` — what old student code may lean on."),
    (model.LatePolicy, "`late:` — what lateness costs."),
    (model.ForbiddenCalls, "An item of `forbidden_calls:` — library calls a course rule forbids."),
    (model.Check, "An item of `checks:`."),
    (model.Comparison, "A check's `compare:` (kinds that compare arrays)."),
    (model.Case, "An item of a check's `cases:`."),
    (model.Diagnosis, "An item of a check's `diagnoses:` (kinds that diagnose)."),
    (model.ManualItem, "An item of `manual:` — a part of the grade a person gives."),
    (model.Level, "An item of a manual item's `levels:`."),
]
_INTERNAL = {"provided_files", "environment_spec"}  # filled in by the loader, never written


def markdown() -> str:
    """The whole page, as Markdown."""
    parts = ["# Rubric reference", "",
             "Generated from the rubric's models (`grader/rubric/model.py`) and the registered "
             "check kinds by `python -m grader.rubric.reference_doc`; a test keeps it equal to "
             "them. Every mapping refuses keys it does not list: a misspelt key is an error "
             "that names the file, the line and the field.", ""]
    for cls, intro in SECTIONS:
        parts += _model_section(cls, intro)
    parts += ["## Check kinds", "",
              "A check's `kind:` is one of these. Each reads `options:` of its own, listed "
              "under it (an option it does not list fails to load); `compare:` and "
              "`diagnoses:` only where the kind says it reads them.", ""]
    for name in KINDS.names():
        parts += _kind_section(name)
    return "\n".join(parts).rstrip() + "\n"


def _model_section(cls: type[BaseModel], intro: str) -> list[str]:
    lines = [f"## {cls.__name__}", "", intro, "", "| key | type | default | meaning |",
             "| --- | --- | --- | --- |"]
    for name, info in cls.model_fields.items():
        if name in _INTERNAL:
            continue
        lines.append(f"| `{info.alias or name}` | {_type(info.annotation)} | {_default(info)} "
                     f"| {_cell(info.description or '')} |")
    return lines + [""]


def _kind_section(name: str) -> list[str]:
    kind = KINDS[name]
    doc = inspect.getdoc(inspect.getmodule(kind)) or ""
    reads = ", ".join(f"`{field}`" for field in sorted(kind.reads)) or "neither"
    return [f"### `{name}`", "", doc, "", f"Reads `compare:`/`diagnoses:`: {reads}.", "",
            *_options_table(kind.options_model, name), ""]


def _options_table(options: type[KindOptions], kind: str) -> list[str]:
    """The kind's ``options:``, a row each (a nested mapping's keys dotted), or one sentence."""
    rows = _option_rows(options, "")
    if not rows:
        return [f"`{kind}` takes no `options:`."]
    return [f"`options:` of `{kind}`:", "", "| option | type | default | meaning |",
            "| --- | --- | --- | --- |", *rows]


def _option_rows(options: type[KindOptions], prefix: str) -> list[str]:
    """A row per option of ``options``; a nested mapping's row is followed by its keys'."""
    rows = []
    for name, info in options.model_fields.items():
        annotation = info.annotation
        nested = annotation if isinstance(annotation, type) and issubclass(annotation, KindOptions) \
            else None
        example = options.example(name)
        meaning = (info.description or "") + (f" (e.g. `{example}`)" if example else "")
        rows.append(f"| `{prefix}{name}` | {'mapping' if nested else _type(annotation)} "
                    f"| {_default(info)} | {_cell(meaning)} |")
        if nested:
            rows += _option_rows(nested, f"{prefix}{name}.")
    return rows


def _type(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " or ".join(f"`{value}`" for value in typing.get_args(annotation))
    text = str(annotation) if not isinstance(annotation, type) else annotation.__name__
    for prefix in ("typing.", "grader.rubric.model.", "grader.rubric.environments.", "datetime."):
        text = text.replace(prefix, "")
    return _cell(text)


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "required"
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "see below"
    return _cell(f"`{value!r}`") if value not in (None, "", [], {}) else "—"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


if __name__ == "__main__":
    print(markdown(), end="")
