"""``accuracy``: the course's top-100 correspondence evaluation of the whole feature pipeline.

One sandbox request runs the student's pipeline end to end, as the F18
notebook does::

    x1, y1, ... = get_interest_points(image_a, feature_width)
    x2, y2, ... = get_interest_points(image_b, feature_width)
    f1 = get_features(image_a, x1, y1, feature_width)
    f2 = get_features(image_b, x2, y2, feature_width)
    matches, confidences = match_features(f1, f2, x1, y1, x2, y2)

and returns only ``matches, confidences, x1, y1, x2, y2``. The trusted parent
keeps the first 100 matches **in the order returned**, scales them back to
full resolution and counts the correct ones with
:func:`grader.datasets.course_evaluation.evaluate_matches` (< 150 px to the
nearest ground-truth point, displacement within 25 px). The accuracy maps to
points through ``options.curve``. As a hint, the message also says what the
accuracy would have been with the matches sorted by the student's
confidences, descending or ascending (distance-like), when that is better.

Cases name ``image_a``, ``image_b``, ``feature_width`` (sent) and
``ground_truth`` — a ``(G, 4)`` array of ``x1, y1, x2, y2`` in full-resolution
pixels, computed on the trusted side and **never sent** to the sandbox.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import ValidationInfo, field_validator

from grader.checks import _feature_outputs as read
from grader.checks.base import CheckProblem, Verdict, missing_arguments
from grader.checks._curve import CurveOptions, CurveScored, curve_fraction
from grader.checks._thumbnails import MAX_SIDE, thumbnail
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.results import CheckResult
from grader.rubric.model import Check
from grader.sandbox import CallOutcome
from grader.sandbox.session import Ref, Step
from grader.checks import KINDS

SENT = ("image_a", "image_b", "feature_width")
GROUND_TRUTH = "ground_truth"
# the pipeline's steps, in order, for messages that name the failing one
STEP_NAMES = ("get_interest_points on image A", "get_interest_points on image B",
              "get_features on image A", "get_features on image B", "match_features")


class AccuracyOptions(CurveOptions):
    """The options of an ``accuracy`` check: its ``curve`` maps the accuracy (0 to 1) to credit."""

    detector: str = "student_harris:get_interest_points"
    """the student's ``module:function`` finding interest points, called ``(image, feature_width)``"""
    descriptor: str = "student_sift:get_features"
    """the student's ``module:function`` describing them, called ``(image, x, y, feature_width)``"""
    num_matches: int = 100
    """how many matches are evaluated, the first returned first; fewer returned scale the
    accuracy down proportionally"""
    scale_factor: float = 0.5
    """the working scale of the images the pipeline gets (0.5: half the full resolution); the
    points are scaled back by it to meet the full-resolution ground truth"""

    @field_validator("detector", "descriptor", mode="before")
    @classmethod
    def _module_function(cls, target: Any, info: ValidationInfo) -> Any:
        if not (isinstance(target, str) and ":" in target):
            raise ValueError(f"{info.field_name} must be module:function")
        return target

    @field_validator("num_matches", mode="before")
    @classmethod
    def _whole_count(cls, count: Any) -> Any:
        if not (_number(count) and float(count).is_integer() and count >= 1):
            raise ValueError(f"num_matches must be a whole number, 1 or more (got {count!r})")
        return count

    @field_validator("scale_factor", mode="before")
    @classmethod
    def _positive_scale(cls, scale: Any) -> Any:
        if not (_number(scale) and scale > 0):
            raise ValueError(f"scale_factor must be a positive number, the working scale "
                             f"(got {scale!r})")
        return scale


@KINDS.register
class AccuracyCheck(CurveScored):
    name = "accuracy"
    options_model = AccuracyOptions

    @classmethod
    def figures(cls, result: CheckResult, arrays: dict[str, Any]) -> list[Any]:
        """Both images with the evaluated matches (which were right: visible checks only)."""
        from grader.figures import match_picture

        return [match_picture(arrays, result.visibility == "visible")] \
            if "image_a" in arrays and "points_a" in arrays else []
    step_names = STEP_NAMES

    @classmethod
    def check_problem(cls, check: Check) -> CheckProblem | None:
        """Every case names the images, the feature width and the ground truth."""
        return missing_arguments(check, SENT + (GROUND_TRUTH,))

    @classmethod
    def expected_outputs(cls, module: Any, function: str, check: Check, args: list[Any]) -> list[Any]:
        """Nothing to compute: the expected data is the ``ground_truth`` input, kept here."""
        return []

    def invoke(self, case: PreparedCase, prepared: PreparedCheck, context) -> CallOutcome:
        check, options = prepared.check, AccuracyOptions.of(prepared.check)
        missing = [n for n in SENT + (GROUND_TRUTH,) if n not in case.arg_names]
        if missing:
            return CallOutcome("protocol", error=f"rubric case lacks argument(s) {missing}")
        image_a, image_b, width = (case.args[case.arg_names.index(n)] for n in SENT)
        detector, descriptor = options.detector.split(":"), options.descriptor.split(":")
        steps = [
            Step(detector[1], [image_a, width], module=detector[0]),
            Step(detector[1], [image_b, width], module=detector[0]),
            Step(descriptor[1], [image_a, Ref(0, 0), Ref(0, 1), width], module=descriptor[0]),
            Step(descriptor[1], [image_b, Ref(1, 0), Ref(1, 1), width], module=descriptor[0]),
            Step(check.function, [Ref(2), Ref(3), Ref(0, 0), Ref(0, 1), Ref(1, 0), Ref(1, 1)]),
        ]
        returns = [Ref(4, 0), Ref(4, 1), Ref(0, 0), Ref(0, 1), Ref(1, 0), Ref(1, 1)]
        return context.session.run(check.module, steps, returns, context.timeout_s)

    def judge(self, outputs: list[Any], case: PreparedCase, prepared: PreparedCheck,
              outcome: CallOutcome) -> Verdict:
        from grader.datasets.course_evaluation import evaluate_matches

        options = AccuracyOptions.of(prepared.check)
        if not outcome.returned_tuple:
            return Verdict(False, "match_features must return (matches, confidences)")
        try:
            pairs, x1, y1, x2, y2, notes = _read_pipeline(outputs)
        except read.OutputProblem as exc:
            return Verdict(False, str(exc))
        truth = np.asarray(case.args[case.arg_names.index(GROUND_TRUTH)], dtype=np.float64)
        ground_truth = dict(zip(("x1", "y1", "x2", "y2"), truth.T))

        def score(order: np.ndarray):
            return evaluate_matches(pairs.pairs[order], x1, y1, x2, y2, ground_truth,
                                    options.scale_factor, options.num_matches)

        returned = score(np.arange(len(pairs.pairs)))
        details = {"accuracy": round(returned.accuracy, 4), "num_matches": len(pairs.pairs),
                   "num_evaluated": returned.num_evaluated, "num_correct": returned.num_correct,
                   "num_points_a": len(x1), "num_points_b": len(x2)}
        if pairs.confidences is not None:
            for direction, sign in (("descending", -1), ("ascending", 1)):
                order = np.argsort(sign * pairs.confidences, kind="stable")
                details[f"accuracy_sorted_{direction}"] = round(score(order).accuracy, 4)
        fraction = curve_fraction(options.curve, returned.accuracy)
        summary = (f"{returned.num_correct} of the first {returned.num_evaluated} matches correct, "
                   f"accuracy {returned.accuracy:.0%}")
        message = "; ".join([summary] + _hints(details, options.num_matches) + notes)
        verdict = self.scored(fraction, summary, details | {"notes": notes},
                              metric=round(returned.accuracy, 4))
        verdict.message = message
        verdict.artifacts = _match_artifacts(case, pairs.pairs, x1, y1, x2, y2, returned.correct,
                                             prepared.check.visibility == "visible")
        return verdict


def _number(value: Any) -> bool:
    """Whether ``value`` is an int or a float (YAML's ``true`` is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_pipeline(outputs: list[Any]):
    """``(Matches, x1, y1, x2, y2, notes)`` from the six returned values."""
    if len(outputs) != 6:
        raise read.OutputProblem(f"the pipeline returned {len(outputs)} values, expected 6")
    matches, confidences, x1, y1, x2, y2 = outputs
    notes: list[str] = []
    points = [read.vector(v, name, notes) for v, name in
              ((x1, "x1"), (y1, "y1"), (x2, "x2"), (y2, "y2"))]
    if points[0].shape != points[1].shape or points[2].shape != points[3].shape:
        raise read.OutputProblem("get_interest_points returned x and y of different lengths")
    pairs = read.matches(matches, confidences, len(points[0]), len(points[2]))
    return (pairs, *(p.astype(np.float64) for p in points), notes + pairs.notes)


def _match_artifacts(case: PreparedCase, pairs: np.ndarray, x1: np.ndarray, y1: np.ndarray,
                     x2: np.ndarray, y2: np.ndarray, correct: np.ndarray,
                     visible: bool) -> dict[str, Any]:
    """Thumbnails of both images and the evaluated matches in thumbnail pixels, for the report.

    ``points_a``/``points_b`` are ``(n, 2)`` arrays of ``x`` (column), ``y`` (row) of the
    first ``n`` evaluated matches; ``correct`` (visible checks only) says which are right.
    """
    images = [np.asarray(case.args[case.arg_names.index(n)]) for n in ("image_a", "image_b")]
    thumbs = [thumbnail(image) for image in images]
    if any(t is None for t in thumbs):
        return {}
    count = len(correct)
    shown: dict[str, Any] = {"image_a": thumbs[0], "image_b": thumbs[1]}
    for key, image, xs, ys, column in (("points_a", images[0], x1, y1, 0),
                                       ("points_b", images[1], x2, y2, 1)):
        step = max(1, int(np.ceil(max(image.shape[:2]) / MAX_SIDE)))  # as thumbnail() strides
        index = pairs[:count, column].astype(np.intp)
        shown[key] = (np.stack([xs[index], ys[index]], axis=1) / step).astype(np.float32)
    if visible:
        shown["correct"] = np.asarray(correct, dtype=bool)
    return shown


def _hints(details: dict[str, Any], wanted: int) -> list[str]:
    """What sorting by confidence, or returning more matches, would have changed."""
    hints = []
    accuracy = details["accuracy"]
    sorted_by = {d: details.get(f"accuracy_sorted_{d}") for d in ("descending", "ascending")}
    best = max((d for d in sorted_by if sorted_by[d] is not None), default=None,
               key=lambda d: sorted_by[d] or 0.0)
    if best is not None and sorted_by[best] > accuracy + 0.005:
        meaning = ("highest confidence first" if best == "descending"
                   else "lowest value first, i.e. your confidences behave like distances")
        hints.append(f"the course evaluates the first {wanted} matches in the order returned; "
                     f"sorted by your confidences ({best}: {meaning}) they would score "
                     f"{sorted_by[best]:.0%} instead of {accuracy:.0%}")
    if details["num_matches"] < wanted:
        hints.append(f"only {details['num_matches']} matches returned; fewer than {wanted} "
                     "scale the accuracy down proportionally")
    return hints
