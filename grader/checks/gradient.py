"""``gradient``: a layer's forward and backward, judged by gradient checks as a TA would.

For each case the sandbox makes two calls (the student's ``cache`` never leaves it):

1. the forward on the case's inputs, then on every input perturbed by ``±h``
   (one :class:`~grader.sandbox.Each` step per argument in ``wrt``); only the
   stacked forward values come back;
2. the forward and the backward with the case's upstream gradient ``dout``.

The trusted parent computes the central differences
``(f(x + h e_i) - f(x - h e_i)) / 2h · dout`` of the student's *own* forward and
splits each case's credit:

- ``partial.forward`` (1/3 by default) for the forward value equal to the reference's;
- the rest, in equal shares, for each gradient in ``wrt`` equal to the reference's;
- a gradient that is not the reference's but equals the numerical gradient of
  the student's own forward earns ``partial.consistent`` (1/2 by default) of its
  share: the backward is right for the (wrong) forward the student wrote.

Errors are CS231n's relative error ``max |a - b| / max(1e-8, |a| + |b|)``.
Without ``backward`` the target returns ``(value, *gradients)`` itself (e.g.
``softmax_loss(x, y) -> (loss, dx)``) and ``dout`` is 1. Rubric ``options``::

    backward: conv_backward_naive   # omit for a loss that returns its own gradient
    wrt: [x, w, b]                  # forward arguments whose gradients come back, in order
    h: 1.0e-5                       # central-difference step
    rel_error: 1.0e-7               # forward value and gradients vs the reference
    numerical_rel_error: 1.0e-5     # gradients vs the student's own numerical gradient
    dout_seed: 0                    # seed of the standard-normal upstream gradient
    partial: {forward: 0.3333, consistent: 0.5}

A wrong gradient's message says how it is wrong when the arrays show it (sign,
scale, transpose, bias summed over the wrong axes, border only, gradient where
there should be none, or a rubric ``diagnoses`` entry); hidden checks give no hints.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import numpy as np
from pydantic import Field, field_validator

from grader.checks.base import CheckContext, CheckKind, Verdict
from grader.checks._free_choices import CHOOSERS
from grader.checks._options import KindOptions
from grader.checks._validate import as_numeric_array
from grader.errors import RubricError
from grader.prepare.prepared import PreparedCase, PreparedCheck, as_outputs
from grader.results import CheckResult, Status
from grader.rubric.model import Check
from grader.sandbox import CallOutcome, Each, Ref, Step
from grader.checks import KINDS


MAX_WRT_SIZE = 2000  # elements of one ``wrt`` argument: 2K forward passes, a (2K, K) stack


class CreditShares(KindOptions):
    """How a case's credit is split (the rest goes to the gradients, in equal shares)."""

    forward: float = Field(1 / 3, ge=0, le=1)
    """share of a case's credit for the forward value equal to the reference's"""
    consistent: float = Field(0.5, ge=0, le=1)
    """share of a gradient's credit when it is not the reference's but the numerical gradient
    of the student's own forward"""


class GradientOptions(KindOptions):
    """The options of a ``gradient`` check (see the module docstring)."""

    backward: str | None = Field(None, pattern=r"^[A-Za-z_]\w*$")
    """the student's backward function, called ``(dout, cache)``; none: the target returns
    ``(value, *gradients)`` itself, as a loss does"""
    wrt: list[str] = Field(min_length=1, examples=[["x", "w", "b"]])
    """the forward's arguments whose gradients come back, in the order they are returned"""
    h: float = Field(1e-5, gt=0)
    """the central differences' step, in the arguments' units"""
    rel_error: float = Field(1e-7, gt=0)
    """largest relative error of the forward value and of each gradient against the reference's"""
    numerical_rel_error: float = Field(1e-5, gt=0)
    """largest relative error of a gradient against the numerical gradient of the student's own
    forward, for partial credit"""
    dout_seed: int = 0
    """seed of the standard-normal upstream gradient ``dout``"""
    partial: CreditShares = CreditShares()
    """how a case's credit is split"""
    free_choice: Literal["max_pool_ties"] | None = None
    """a choice the course leaves free, where every valid answer earns a gradient's credit:
    ``max_pool_ties``, which of a window's tied maxima gets its gradient (or how it is split)"""

    @field_validator("wrt")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"wrt names an argument twice: {names}")
        return names


@dataclass
class GradientOutcome(CallOutcome):
    """Both sandbox calls of one case: the forward value, the perturbed forwards, the gradients."""

    value: Any = None
    stacks: list[Any] = field(default_factory=list)
    gradients: list[Any] = field(default_factory=list)
    backward_error: str = ""


@dataclass
class _Part:
    """The judgement of one gradient: credit in {0, consistent, 1} of its share, one clause."""

    credit: float
    message: str = ""
    rel_error: float | None = None


@KINDS.register
class GradientCheck(CheckKind):
    name = "gradient"
    reads = frozenset({"diagnoses"})
    options_model = GradientOptions

    @classmethod
    def figures(cls, result: CheckResult, arrays: dict[str, Any]) -> list[Any]:
        """The relative error of the forward value and of each gradient, with the pass bar."""
        from grader.figures import gradient_chart

        errors = result.details.get("rel_errors")
        return [gradient_chart(result.details.get("forward_rel_error"), errors,
                               result.details.get("rel_error_threshold"))] \
            if isinstance(errors, dict) and errors else []

    @classmethod
    def expected_outputs(cls, module: Any, function: str, check: Check, args: list[Any]) -> list[Any]:
        """The reference's ``[value, dout, *gradients]`` (trusted side); ``dout`` = 1 for a loss."""
        opts = GradientOptions.of(check)
        _require_float_wrt(check, opts, args)
        forward = getattr(module, function)
        if opts.backward is None:
            value, *gradients = forward(*args)
            dout = 1.0
        else:
            value, cache = forward(*args)
            dout = np.random.default_rng(opts.dout_seed).standard_normal(np.shape(value))
            gradients = _as_list(getattr(module, opts.backward)(dout.copy(), cache))
        if len(gradients) != len(opts.wrt):
            raise RubricError(f"check {check.id}: the reference returns {len(gradients)} "
                              f"gradient(s) but options.wrt names {len(opts.wrt)}")
        return as_outputs((value, dout, *gradients))

    def invoke(self, case: PreparedCase, prepared: PreparedCheck,
               context: CheckContext) -> CallOutcome:
        check, opts = prepared.check, GradientOptions.of(prepared.check)
        positions = [case.arg_names.index(name) for name in opts.wrt]
        perturbed = context.session.run(
            check.module, _perturbed_steps(check.function, case.args, positions, opts.h),
            [Ref(step, 0) for step in range(len(positions) + 1)], context.timeout_s)
        if perturbed.status != "returned":
            return perturbed
        steps = [Step(check.function, case.args)]
        if opts.backward:
            steps.append(Step(opts.backward, [np.asarray(case.expected[1]), Ref(0, 1)]))
        analytic = context.session.run(check.module, steps, None, context.timeout_s)
        return _merge(perturbed, analytic, opts.backward)

    def judge(self, outputs: list[Any], case: PreparedCase, prepared: PreparedCheck,
              outcome: CallOutcome) -> Verdict:
        outcome = cast(GradientOutcome, outcome)  # what invoke returns for a call that returned
        check, opts = prepared.check, GradientOptions.of(prepared.check)
        visible = check.visibility == "visible"
        value_label = "out" if opts.backward else "loss"
        value, forward_clause, forward_error = _judge_forward(
            outcome.value, case.expected[0], opts.rel_error, value_label, visible)
        parts = _judge_gradients(outcome, case, opts, value, visible, forward_clause is None)
        share = (1 - opts.partial.forward) / len(opts.wrt)
        credit = opts.partial.forward * (forward_clause is None) + share * sum(
            p.credit for p in parts)
        clauses = [forward_clause] if forward_clause else []
        if outcome.backward_error:
            clauses.append(f"{opts.backward} raised {outcome.backward_error}")
        clauses += [p.message for p in parts if p.message]
        details = {"forward_rel_error": forward_error, "credit": round(credit, 6),
                   "rel_errors": {f"d{n}": p.rel_error for n, p in zip(opts.wrt, parts)},
                   "rel_error_threshold": opts.rel_error}  # the report's chart draws it
        passed = forward_clause is None and all(p.credit == 1 for p in parts)
        return Verdict(passed, "; ".join(clauses), details,
                             status=Status.ERROR if outcome.backward_error else None,
                             credit=credit)


# -- the sandbox requests ------------------------------------------------------


def _perturbed_steps(function: str, args: list[Any], positions: list[int], h: float) -> list[Step]:
    """The forward on ``args``, then once per ``wrt`` argument on all its ±h perturbations."""
    steps = [Step(function, list(args))]
    for position in positions:
        moved = list(args)
        moved[position] = Each(_perturbations(args[position], h))
        steps.append(Step(function, moved))
    return steps


def _perturbations(value: np.ndarray, h: float) -> np.ndarray:
    """``(2K, *shape)``: ``value + h e_i`` for i < K, then ``value - h e_i`` (K = value.size)."""
    flat = np.asarray(value).reshape(-1)
    size = flat.size
    stack = np.repeat(flat[None], 2 * size, axis=0)
    index = np.arange(size)
    stack[index, index] += h
    stack[size + index, index] -= h
    return stack.reshape(2 * size, *np.shape(value))


def _merge(perturbed: CallOutcome, analytic: CallOutcome, backward: str | None) -> CallOutcome:
    """One outcome for both calls; a backward that raised still lets the forward earn credit."""
    stdout, seconds = perturbed.stdout + analytic.stdout, perturbed.seconds + analytic.seconds
    backward_raised = backward is not None and analytic.status == "raised" and analytic.step == 1
    if analytic.status != "returned" and not backward_raised:
        error = analytic.error
        if backward is not None:
            error = (f"then {backward} {error}" if analytic.status == "timeout"
                     else f"in {backward}: {error}")
        return replace(analytic, error=error, stdout=stdout, seconds=seconds)
    gradients = analytic.outputs if backward else analytic.outputs[1:]
    return GradientOutcome("returned", stdout=stdout, seconds=seconds,
                           traceback=analytic.traceback, value=perturbed.outputs[0],
                           stacks=perturbed.outputs[1:],
                           gradients=[] if backward_raised else gradients,
                           backward_error=analytic.error if backward_raised else "")


# -- judging -------------------------------------------------------------------


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """CS231n's ``max |a - b| / max(1e-8, |a| + |b|)`` (0 for empty arrays, NaN stays NaN)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def _judge_forward(value: Any, expected: Any, threshold: float, label: str,
                   visible: bool) -> tuple[np.ndarray | None, str | None, float | None]:
    """``(array or None, clause or None when right, relative error)`` of the forward value."""
    expected = np.asarray(expected)
    array, problem, _ = as_numeric_array(value, expected, label)
    if array is None:
        raw = np.asarray(value) if not isinstance(value, dict) else None
        if visible and raw is not None and raw.shape == expected.shape[1:]:
            problem += " (does the forward return the tuple (out, cache)?)"
        return None, problem, None
    if not np.all(np.isfinite(array)):
        return array, f"{label} contains NaN or infinity", None
    error = rel_error(array, expected)
    if error <= threshold:
        return array, None, error
    return array, f"{label} has relative error {error:.2g}", error


def _judge_gradients(outcome: GradientOutcome, case: PreparedCase, opts: GradientOptions,
                     value: np.ndarray | None, visible: bool, forward_ok: bool) -> list[_Part]:
    """One :class:`_Part` per ``wrt`` argument."""
    labels = [f"d{name}" for name in opts.wrt]
    if outcome.backward_error:
        return [_Part(0.0) for _ in labels]
    gradients = outcome.gradients
    if len(gradients) != len(labels):
        who = opts.backward or "the function"
        expected = len(labels) + (0 if opts.backward else 1)
        got = len(gradients) + (0 if opts.backward else 1)
        return [_Part(0.0, f"{who} returned {got} value(s), expected {expected} "
                           f"({', '.join(labels)})")] + [_Part(0.0) for _ in labels[1:]]
    dout = case.expected[1]
    clue = _Clue(dout=np.asarray(dout), batch=int((np.shape(case.args[0]) or (1,))[0]),
                 diagnoses=case.diagnoses, tolerance=opts.numerical_rel_error)
    parts = []
    for index, (label, position) in enumerate(
            zip(labels, [case.arg_names.index(n) for n in opts.wrt])):
        numerical = _numerical(outcome.stacks[index], value, dout, opts.h,
                               np.shape(case.args[position]))
        part = _judge_gradient(gradients[index], case.expected[2 + index], numerical, label,
                               index, opts, clue if visible else None, forward_ok)
        parts.append(_freely_chosen(part, gradients[index], case, opts, label))
    return parts


def _freely_chosen(part: _Part, gradient: Any, case: PreparedCase, opts: GradientOptions,
                   label: str) -> _Part:
    """Full credit for a gradient that is not the reference's but one of the valid answers of
    the check's ``free_choice`` (ties the course leaves free)."""
    if part.credit == 1 or opts.free_choice is None or not _compared(part):
        return part
    array = np.asarray(gradient) if not isinstance(gradient, dict) else None
    if array is None or array.dtype.kind not in "biuf":
        return part
    args = dict(zip(case.arg_names, case.args))
    if not CHOOSERS[opts.free_choice](args, np.asarray(case.expected[1]), array):
        return part
    return _Part(1.0, f"{label} chooses differently where the course leaves it free "
                      f"({opts.free_choice.replace('_', ' ')}): accepted", rel_error=part.rel_error)


def _compared(part: _Part) -> bool:
    """Whether ``part`` judged a numeric array of the right shape (another answer may be)."""
    return part.rel_error is not None


def _numerical(stack: Any, value: np.ndarray | None, dout: Any, h: float,
               shape: tuple[int, ...]) -> np.ndarray | None:
    """Central differences of the student's forward, or ``None`` when its values do not allow it."""
    if value is None or isinstance(stack, dict) or value.shape != np.shape(dout):
        return None
    stack = np.asarray(stack)
    size = int(np.prod(shape))
    if stack.dtype.kind not in "biuf" or stack.shape != (2 * size, *value.shape):
        return None
    with np.errstate(invalid="ignore", over="ignore"):  # a forward returning inf: judged later
        change = (stack[:size].astype(np.float64) - stack[size:]).reshape(size, -1)
        return (change @ np.ravel(dout) / (2 * h)).reshape(shape)


def _judge_gradient(actual: Any, expected: Any, numerical: np.ndarray | None, label: str,
                    index: int, opts: GradientOptions, clue: _Clue | None,
                    forward_ok: bool) -> _Part:
    expected = np.asarray(expected)
    array, problem, _ = as_numeric_array(actual, expected, label)
    if array is None:
        hint = _shape_hint(actual, expected, label, clue) if clue else None
        return _Part(0.0, f"{problem}; {hint}" if hint else problem)
    if not np.all(np.isfinite(array)):
        return _Part(0.0, f"{label} contains NaN or infinity")
    error = rel_error(array, expected)
    if error <= opts.rel_error:
        return _Part(1.0, rel_error=error)
    message = f"{label} has relative error {error:.2g}"
    if numerical is not None and rel_error(array, numerical) <= opts.numerical_rel_error:
        why = ("close to the numerical gradient but not exact: computed in lower precision?"
               if forward_ok else "but it is the numerical gradient of your forward "
                                  "(partial credit): fix the forward")
        return _Part(opts.partial.consistent, f"{message}, {why}", rel_error=error)
    hint = _value_hint(array, expected, label, replace(clue, index=index)) if clue else None
    return _Part(0.0, f"{message} ({hint})" if hint else message, rel_error=error)


# -- diagnoses: how a wrong gradient is wrong (visible checks only) --------------------


@dataclass
class _Clue:
    """What the hints may compare with besides the reference gradient."""

    dout: np.ndarray
    batch: int
    diagnoses: list[tuple[str, list[Any]]]
    tolerance: float
    index: int = 0


def _close(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    return np.shape(a) == np.shape(b) and rel_error(a, b) <= tolerance


def _shape_hint(actual: Any, expected: np.ndarray, label: str, clue: _Clue) -> str | None:
    raw = np.asarray(actual) if not isinstance(actual, dict) else None
    if raw is None or raw.dtype.kind not in "biuf":
        return None
    grown = np.subtract(raw.shape[-2:], expected.shape[-2:]) if raw.ndim == expected.ndim else []
    if raw.ndim >= 3 and raw.shape[:-2] == expected.shape[:-2] and len(set(grown)) == 1 \
            and grown[0] > 0 and grown[0] % 2 == 0:
        return "padding not removed?"
    if raw.ndim == 2 and raw.shape == expected.shape[::-1]:
        return "transposed?"
    return _bias_hint(raw, expected, label, clue)


def _value_hint(actual: np.ndarray, expected: np.ndarray, label: str,
                clue: _Clue) -> str | None:
    for hint in _HINTS:
        found = hint(actual, expected, label, clue)
        if found:
            return found
    return None


def _diagnosis_hint(actual: np.ndarray, expected: np.ndarray, label: str,
                    clue: _Clue) -> str | None:
    """A rubric ``diagnoses`` entry: the reference run on a transformed argument."""
    at = 2 + clue.index
    for message, outputs in clue.diagnoses:
        if len(outputs) > at and _close(actual, np.asarray(outputs[at]), clue.tolerance):
            return message
    return None


def _scale_hint(actual: np.ndarray, expected: np.ndarray, label: str, clue: _Clue) -> str | None:
    norm = float(np.sum(expected * expected))
    if norm == 0:
        return None
    if not np.any(actual):
        return "all zeros: not computed yet?"
    factor = float(np.sum(actual * expected)) / norm
    if abs(factor - 1) < 1e-6 or not _close(actual, factor * expected, clue.tolerance):
        return None
    if abs(factor + 1) < 1e-6:
        return "sign flipped?"
    batch = clue.batch
    if batch > 1 and min(abs(factor - batch), abs(factor - 1 / batch)) < 1e-6 * batch:
        return f"off by a factor of {factor:.3g}: averaged over the batch of N = {batch} wrongly?"
    return f"off by a constant factor of {factor:.3g}?"


def _transpose_hint(actual: np.ndarray, expected: np.ndarray, label: str,
                    clue: _Clue) -> str | None:
    square = expected.ndim == 2 and expected.shape[0] == expected.shape[1]
    return "transposed?" if square and _close(actual, expected.T, clue.tolerance) else None


def _bias_hint(actual: np.ndarray, expected: np.ndarray, label: str, clue: _Clue) -> str | None:
    """``actual`` is ``dout`` summed over other axes than the reference sums over."""
    if clue.dout.ndim == 0:
        return None
    wrong = right = None
    for count in range(1, clue.dout.ndim + 1):
        for axes in itertools.combinations(range(clue.dout.ndim), count):
            summed = clue.dout.sum(axis=axes)
            if right is None and _close(summed, expected, clue.tolerance):
                right = axes
            elif wrong is None and summed.size == actual.size and _close(
                    summed.reshape(actual.shape), actual, clue.tolerance):
                wrong = axes
    if wrong is None:
        return None
    instead = f" instead of {right}" if right is not None else ""
    return f"{label} is dout summed over axes {wrong}{instead}: summed over the wrong axis?"


def _leak_hint(actual: np.ndarray, expected: np.ndarray, label: str, clue: _Clue) -> str | None:
    """Gradient where the reference has none, e.g. to every element of a pooling window."""
    silent = expected == 0
    if not silent.any() or silent.all():
        return None
    scale = float(np.max(np.abs(expected)))
    leaks = int(np.count_nonzero(np.abs(actual[silent]) > 1e-6 * scale))
    if leaks < silent.sum() / 2:
        return None
    return (f"{label} is nonzero at {leaks} of the {int(silent.sum())} entries whose gradient "
            "is 0: gradient sent to every input (of a pooling window, or an inactive unit) "
            "instead of only the ones the output depends on?")


def _border_hint(actual: np.ndarray, expected: np.ndarray, label: str, clue: _Clue) -> str | None:
    """All wrong entries lie within a few pixels of the border of the last two axes."""
    if actual.ndim < 3:
        return None
    scale = np.maximum(1e-8, np.abs(actual) + np.abs(expected))
    wrong = np.abs(actual - expected) / scale > clue.tolerance
    height, width = expected.shape[-2:]
    rows, cols = np.nonzero(wrong.reshape(-1, height, width).any(axis=0))
    depth = np.minimum.reduce([rows, height - 1 - rows, cols, width - 1 - cols])
    band = int(depth.max()) + 1 if depth.size else 0
    if band == 0 or 2 * band >= min(height, width):
        return None
    return f"{label} is right except within {band} pixel(s) of the border: padding handled wrongly?"


_HINTS = (_diagnosis_hint, _scale_hint, _transpose_hint, _bias_hint, _leak_hint, _border_hint)


def _require_float_wrt(check: Check, opts: GradientOptions, args: list[Any]) -> None:
    """Cases name the same arguments, ``wrt`` among them, as float arrays (trusted, at prepare)."""
    names = list(check.cases[0].args)
    for number, case in enumerate(check.cases, start=1):
        if list(case.args) != names:
            raise RubricError(f"check {check.id}, case {number}: a gradient check's cases must "
                              f"name the same arguments in the same order ({', '.join(names)})")
    for name in opts.wrt:
        if name not in names:
            raise RubricError(f"check {check.id}: options.wrt names {name!r}, which is not an "
                              f"argument of its cases ({', '.join(names)})")
        value = args[names.index(name)]
        if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
            raise RubricError(f"check {check.id}: argument {name!r} in options.wrt must be a "
                              "float array (e.g. {normal: ...} or a value literal of floats)")
        if value.size > MAX_WRT_SIZE:
            raise RubricError(f"check {check.id}: argument {name!r} has {value.size} elements; "
                              f"its numerical gradient runs the forward twice per element, so "
                              f"keep gradient-check inputs at most {MAX_WRT_SIZE} elements")


def _as_list(result: Any) -> list[Any]:
    return list(result) if isinstance(result, (tuple, list)) else [result]
