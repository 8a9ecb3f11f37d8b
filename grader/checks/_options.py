"""A kind's ``options:``: the typed model a check kind declares, and its errors in one sentence.

Each kind that takes options declares a :class:`KindOptions` subclass next to the kind, one
typed field per option with its default and a docstring (units, meaning); rules beyond the
types are validators on that model. The loader validates a check's ``options`` through it
(:meth:`~grader.checks.base.CheckKind.options_problem`), so a key the kind does not know fails
to load; the kind reads them typed with :meth:`KindOptions.of`. The generated rubric reference
lists the models' fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from grader.rubric.model import Check, LocatedError

Location = tuple[str | int, ...]  # where inside ``options``, e.g. ("partial", "forward")


class KindOptions(BaseModel):
    """The options of a kind that takes none; kinds that take some subclass it."""

    # a field's docstring is its description (the generated rubric reference shows it)
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @classmethod
    def of(cls, check: Check) -> Self:
        """``check``'s options, validated and with their defaults (the loader has validated
        them already, so for a loaded rubric this does not raise)."""
        return cls.model_validate(check.options)

    @classmethod
    def example(cls, name: str) -> str | None:
        """The first example of option ``name``, as YAML flow text (``[[0, 0], [0.8, 1]]``)."""
        examples = cls.model_fields[name].examples
        return yaml.safe_dump(examples[0], default_flow_style=True).strip() if examples else None


def first_problem(model: type[KindOptions], kind: str,
                  options: dict[str, Any]) -> tuple[Location, str] | None:
    """Where in ``options`` the first problem is, and one sentence naming the option, or ``None``.

    A key the model does not know comes first: a misspelt option is also a missing one, and
    its name is the better clue.
    """
    try:
        model.model_validate(options)
    except ValidationError as exc:
        error = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        return _located(error), _sentence(error, model, kind)
    return None


def _located(error: ErrorDetails) -> Location:
    """The error's place in ``options``, down to the key a validator named."""
    loc = tuple(error["loc"])
    found = error.get("ctx", {}).get("error")
    if isinstance(found, LocatedError):
        return loc + found.loc if found.relative else found.loc
    return loc


def _sentence(error: ErrorDetails, model: type[KindOptions], kind: str) -> str:
    loc = tuple(error["loc"])
    name = _dotted(loc)
    if error["type"] == "extra_forbidden":
        return _unknown(model, kind, loc)
    if error["type"] == "missing":
        owner = _model_at(model, loc[:-1])
        example = owner.example(str(loc[-1])) if owner else None
        return f"kind {kind!r} needs options.{name}" + (f", e.g. {example}" if example else "")
    if error["type"] in ("bool_type", "bool_parsing"):
        return f"{name} must be true or false"
    if error["type"] == "value_error":  # a validator's own sentence, naming the option itself
        return error["msg"].removeprefix("Value error, ")
    return f"{name}: {error['msg']}"


def _unknown(model: type[KindOptions], kind: str, loc: Location) -> str:
    """The sentence for an option ``loc`` that ``model`` does not know."""
    if len(loc) == 1 and not model.model_fields:
        return f"kind {kind!r} takes no options"
    owner = _model_at(model, loc[:-1])
    prefix = "".join(f"{part}." for part in loc[:-1])
    known = f"; known: {', '.join(prefix + field for field in owner.model_fields)}" if owner else ""
    return f"unknown option {_dotted(loc)!r} for kind {kind!r}{known}"


def _model_at(model: type[KindOptions], loc: Sequence[str | int]) -> type[KindOptions] | None:
    """The nested options model at ``loc`` inside ``model`` (``()``: ``model``), if there is one."""
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, KindOptions)):
            return None
        model = annotation
    return model


def _dotted(loc: Location) -> str:
    return ".".join(str(part) for part in loc)
