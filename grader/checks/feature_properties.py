"""Named properties of Project 2 stage outputs, judged by the ``property`` kind (trusted side).

Each stage is checked on its own fixed inputs, so one broken stage does not
zero the others:

- interest points: ``keypoint_recall`` — the reference's strongest points
  are found, within a few pixels, among the student's strongest (a tolerance
  on the *ranking*, not on response values, so any sensible Harris variant —
  Sobel or derivative-of-Gaussian gradients, another window, alpha in
  0.04–0.06 — passes);
- descriptors: ``unit_norm``, ``clipped`` (no bin dominates a typical
  textured window after Lowe's clip-and-renormalise), ``offset_invariant`` (unchanged when the
  image brightness is offset), ``near_reference`` (cosine similarity to the
  reference descriptor on the same keypoints, loose enough to admit the
  documented variants: hard or soft binning, Gaussian weighting or not,
  clipping, a power law);
- matches: ``same_matches`` — the same (i, j) pairs as the reference, in any
  order.

A property is a :class:`Property`: a test on the read output (and the
reference's, and a variant call's), returning the problem in one sentence or
``None``, plus the numbers behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checks import feature_outputs as read

Outcome = tuple[str | None, dict[str, Any]]  # (problem or None, details)


@dataclass(frozen=True)
class Observed:
    """What one case produced.

    ``value`` is the student's output as read by the check's reader,
    ``expected`` the reference's outputs as returned (a list), ``variants``
    the raw outputs of the variant calls, ``args`` the case's arguments by name.
    """

    value: Any
    expected: Any
    variants: list[Any]
    args: dict[str, Any]


@dataclass(frozen=True)
class Property:
    """One named property: ``test(observed, params)``, its default params, an optional variant.

    ``variant(args, params)`` returns the arguments of an extra call of the
    same function (e.g. a brightened image); its output arrives in
    ``Observed.variants`` in the order the properties are listed.
    """

    test: Callable[[Observed, dict[str, Any]], Outcome]
    defaults: dict[str, Any] = field(default_factory=dict)
    needs_reference: bool = False
    variant: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None


# -- readers: one per output type, from the returned values -------------------


def read_interest_points(outputs: list[Any], returned_tuple: bool, args: dict[str, Any]):
    points = read.interest_points(outputs, returned_tuple)
    return points, points.notes


def read_descriptors(outputs: list[Any], returned_tuple: bool, args: dict[str, Any]):
    if returned_tuple and len(outputs) != 1:
        raise read.OutputProblem(f"get_features returned {len(outputs)} values, expected one array")
    count = np.size(args["x"]) if "x" in args else None
    return read.descriptors(outputs[0], count)


def read_matches(outputs: list[Any], returned_tuple: bool, args: dict[str, Any]):
    if not returned_tuple or len(outputs) != 2:
        raise read.OutputProblem("match_features must return (matches, confidences)")
    n1, n2 = (len(args[k]) for k in ("features1", "features2"))
    found = read.matches(outputs[0], outputs[1], n1, n2)
    return found, found.notes


READERS = {"interest_points": read_interest_points, "descriptors": read_descriptors,
           "matches": read_matches}


# -- interest points -----------------------------------------------------------


def _keypoint_recall(observed: Observed, params: dict[str, Any]) -> Outcome:
    top, radius = int(params["top"]), float(params["radius"])
    reference = read.interest_points(observed.expected, True)
    ref_x, ref_y = reference.x[:top], reference.y[:top]
    x, y, how = observed.value.ranked()
    keep = int(np.ceil(top * params["slack"]))
    x, y = x[:keep], y[:keep]
    if len(x) == 0:
        return "no interest points returned", {"recall": 0.0}
    distance = np.hypot(ref_x[:, None] - x[None, :], ref_y[:, None] - y[None, :]).min(axis=1)
    recall = float(np.mean(distance <= radius))
    details = {"recall": round(recall, 4), "reference_points": len(ref_x),
               "student_points_considered": len(x), "ranked": how}
    if recall >= params["min_recall"]:
        return None, details
    missed = int(np.argmax(distance))
    return (f"only {recall:.0%} of the {len(ref_x)} strongest corners are among your "
            f"{len(x)} strongest points (ranked {how}) within {radius:g} px; e.g. none near "
            f"x={ref_x[missed]:.0f}, y={ref_y[missed]:.0f}", details)


# -- descriptors ---------------------------------------------------------------


def _unit_norm(observed: Observed, params: dict[str, Any]) -> Outcome:
    norms = np.linalg.norm(observed.value, axis=1)
    worst = int(np.argmax(np.abs(norms - 1))) if norms.size else 0
    details = {"min_norm": float(norms.min(initial=1)), "max_norm": float(norms.max(initial=1))}
    if norms.size == 0 or abs(norms[worst] - 1) <= params["tol"]:
        return None, details
    return f"descriptor rows must have unit length; row {worst} has norm {norms[worst]:.4g}", details


def _clipped(observed: Observed, params: dict[str, Any]) -> Outcome:
    """After clipping at 0.2 and renormalising, a textured window's largest bin stays small.

    The median over keypoints of each descriptor's largest component is
    about 0.2-0.28 with Lowe's clipping and 0.42-0.46 without it on natural
    image windows, whatever the binning details.
    """
    largest = np.abs(observed.value).max(axis=1) if observed.value.size else np.zeros(1)
    median = float(np.median(largest))
    details = {"median_max_component": round(median, 4)}
    if median <= params["max_median"]:
        return None, details
    return (f"the largest component of a typical descriptor is {median:.2f}: a few strong "
            f"gradients dominate; clip at {params['clip']:g} after normalising and "
            "renormalise (Lowe 2004, sec. 6.1)", details)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.einsum("ij,ij->i", a, b) / np.where(norms > 0, norms, 1.0)


def _offset_variant(args: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    image = np.asarray(args[params["argument"]])
    return {**args, params["argument"]: (image + np.asarray(params["offset"], image.dtype))}


def _offset_invariant(observed: Observed, params: dict[str, Any]) -> Outcome:
    try:
        other, _ = read.descriptors(observed.variants[0], len(observed.value))
    except read.OutputProblem as exc:
        return f"with the brightness offset: {exc}", {}
    cosine = _cosines(observed.value, other)
    details = {"min_cosine_offset": round(float(cosine.min(initial=1)), 6)}
    if cosine.size == 0 or cosine.min() >= params["min_cosine"]:
        return None, details
    return (f"adding {params['offset']:g} to every pixel changes descriptor "
            f"{int(cosine.argmin())} (cosine {cosine.min():.4f}); build it from gradients "
            "only", details)


def _near_reference(observed: Observed, params: dict[str, Any]) -> Outcome:
    expected, _ = read.descriptors(observed.expected[0])
    if observed.value.shape != expected.shape:
        return (f"descriptors have shape {observed.value.shape}, expected {expected.shape} "
                "(one 128-D row per keypoint)", {})
    cosine = _cosines(observed.value, expected)
    mean = float(cosine.mean()) if cosine.size else 1.0
    details = {"mean_cosine": round(mean, 4), "min_cosine": round(float(cosine.min(initial=1)), 4)}
    if mean >= params["min_cosine"]:
        return None, details
    return (f"descriptors differ from the expected SIFT-like layout (mean cosine similarity "
            f"{mean:.2f}, need {params['min_cosine']:g}): check the 4x4 cell order (row-major), "
            "8 orientation bins per cell from arctan2(dy, dx), and unit normalisation", details)


# -- matches -------------------------------------------------------------------


def _same_matches(observed: Observed, params: dict[str, Any]) -> Outcome:
    found = {tuple(p) for p in observed.value.pairs.tolist()}
    wanted = {tuple(p) for p in np.asarray(observed.expected[0]).tolist()}
    recall = len(found & wanted) / len(wanted) if wanted else 1.0
    precision = len(found & wanted) / len(found) if found else float(not wanted)
    details = {"recall": round(recall, 4), "precision": round(precision, 4),
               "num_matches": len(found), "num_expected": len(wanted)}
    if recall >= params["min_recall"] and precision >= params["min_precision"]:
        return None, details
    shown = sorted(found)[:6]
    return (f"matches sorted by column 0 start {shown}; {recall:.0%} of the expected pairs "
            f"found, {precision:.0%} of yours expected (nearest neighbour with the ratio "
            "test, column 0 indexing features1)", details)


PROPERTIES: dict[str, Property] = {
    "keypoint_recall": Property(_keypoint_recall, {"top": 20, "slack": 2.0, "radius": 2.0,
                                                   "min_recall": 0.8}, needs_reference=True),
    "unit_norm": Property(_unit_norm, {"tol": 1e-3}),
    "clipped": Property(_clipped, {"max_median": 0.35, "clip": 0.2}),
    "offset_invariant": Property(_offset_invariant, {"argument": "image", "offset": 0.1,
                                                     "min_cosine": 0.999},
                                 variant=_offset_variant),
    "near_reference": Property(_near_reference, {"min_cosine": 0.8}, needs_reference=True),
    "same_matches": Property(_same_matches, {"min_recall": 1.0, "min_precision": 1.0},
                             needs_reference=True),
}
