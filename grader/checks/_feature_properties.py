"""Named properties of Project 2 stage outputs, judged by the ``property`` kind (trusted side).

Each stage is checked on its own fixed inputs, so one broken stage does not
zero the others:

- interest points: ``keypoint_recall`` — the reference's strongest points
  are found, within a few pixels, among the student's strongest (a tolerance
  on the *ranking*, not on response values, so any sensible Harris variant —
  Sobel or derivative-of-Gaussian gradients, another window, alpha in
  0.04–0.06 — passes); ``keypoint_precision`` — the student's strongest
  points are among the reference's many strong corners (for photos, whose
  ranking of corners depends on the scales); ``rotation_covariant`` — the student's own strongest
  points on the image turned by 90° are their points on the image, turned
  (compares the student with themselves, so it can be tight);
- descriptors: ``unit_norm``, ``clipped`` (no bin dominates a typical
  textured window after Lowe's clip-and-renormalise), ``offset_invariant`` and
  ``contrast_invariant`` (unchanged when the image brightness is offset or its
  contrast scaled), ``near_reference`` (cosine similarity to the
  reference descriptor on the same keypoints, loose enough to admit the
  documented variants: hard or soft binning, Gaussian weighting or not,
  clipping, a power law);
- matches: ``same_matches`` — the same (i, j) pairs as the reference, in any
  order; ``confident_matches`` — the first matches returned are among the
  reference's most confident.

A property is a :class:`Property`: a test on the read output (and the
reference's, and a variant call's), returning the problem in one sentence or
``None``, plus the numbers behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checks import _feature_outputs as read

Outcome = tuple[str | None, dict[str, Any]]  # (problem or None, details)


@dataclass(frozen=True)
class Observed:
    """What one case produced.

    ``value`` is the student's output as read by the check's reader,
    ``expected`` the reference's outputs as returned (a list), ``variants``
    the raw returned values of each property's variant call, by property
    name, ``args`` the case's arguments by name.
    """

    value: Any
    expected: Any
    variants: dict[str, list[Any]]
    args: dict[str, Any]


@dataclass(frozen=True)
class Property:
    """One named property: ``test(observed, params)``, its default params, an optional variant.

    ``variant(args, params)`` returns the arguments of an extra call of the
    same function (e.g. a brightened image); its output arrives in
    ``Observed.variants[property name]``.
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
# how many returned values each reader takes from a call (None: the one value returned)
VALUES_READ = {"interest_points": 5, "descriptors": None, "matches": 2}


# -- interest points -----------------------------------------------------------


def _strongest(points: read.InterestPoints, count: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``count`` of ``points`` ranked strongest first, and how they were ranked."""
    x, y, how = points.ranked()
    return x[:count], y[:count], how


def _nearest(x: np.ndarray, y: np.ndarray, to_x: np.ndarray, to_y: np.ndarray) -> np.ndarray:
    """(N,) distance in pixels from each point (x, y) to the nearest point (to_x, to_y)."""
    return np.hypot(x[:, None] - to_x[None, :], y[:, None] - to_y[None, :]).min(axis=1)


def _keypoint_recall(observed: Observed, params: dict[str, Any]) -> Outcome:
    top, radius = int(params["top"]), float(params["radius"])
    ref_x, ref_y, _ = _strongest(read.interest_points(observed.expected, True), top)
    x, y, how = _strongest(observed.value, int(np.ceil(top * params["slack"])))
    if len(x) == 0:
        return "no interest points returned", {"recall": 0.0}
    distance = _nearest(ref_x, ref_y, x, y)
    recall = float(np.mean(distance <= radius))
    details = {"recall": round(recall, 4), "reference_points": len(ref_x),
               "student_points_considered": len(x), "ranked": how}
    if recall >= params["min_recall"]:
        return None, details
    missed = int(np.argmax(distance))
    return (f"only {recall:.0%} of the {len(ref_x)} strongest corners are among your "
            f"{len(x)} strongest points (ranked {how}) within {radius:g} px; e.g. none near "
            f"x={ref_x[missed]:.0f}, y={ref_y[missed]:.0f}", details)


def _keypoint_precision(observed: Observed, params: dict[str, Any]) -> Outcome:
    """The student's ``top`` strongest points are among the reference's ``pool`` strongest.

    The converse of :func:`_keypoint_recall`, and fairer on photos: which 30
    of a photo's many corners come out strongest depends on the detector's
    scales, but any Harris detector's strongest points are strong corners
    for every other. Missing points count as misses.
    """
    top, radius = int(params["top"]), float(params["radius"])
    pool_x, pool_y, _ = _strongest(read.interest_points(observed.expected, True), int(params["pool"]))
    x, y, how = _strongest(observed.value, top)
    if len(x) == 0 or len(pool_x) == 0:
        return "no interest points returned", {"precision": 0.0}
    distance = _nearest(x, y, pool_x, pool_y)
    precision = float(np.sum(distance <= radius)) / top
    details = {"precision": round(precision, 4), "student_points_considered": len(x), "ranked": how}
    if precision >= params["min_precision"]:
        return None, details
    worst = int(np.argmax(distance))
    return (f"only {precision:.0%} of your {top} strongest points (ranked {how}) lie within "
            f"{radius:g} px of one of the {len(pool_x)} strongest corners; e.g. x={x[worst]:.0f}, "
            f"y={y[worst]:.0f} is not a corner", details)


def _rot90_variant(args: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    image = np.asarray(args[params["argument"]])
    return {**args, params["argument"]: np.ascontiguousarray(np.rot90(image))}


def _rotation_covariant(observed: Observed, params: dict[str, Any]) -> Outcome:
    """The student's strongest points come back, turned, when the image is turned by 90°.

    ``np.rot90`` moves pixel (row r, column c) of an (H, W) image to
    (W - 1 - c, r); a point (x', y') found on the turned image is mapped back
    to (x, y) = (W - 1 - y', x') and compared with the points found on the
    image itself.
    """
    try:
        turned = read.interest_points(observed.variants["rotation_covariant"], True)
    except read.OutputProblem as exc:
        return f"on the image turned by 90°: {exc}", {}
    top, radius = int(params["top"]), float(params["radius"])
    width = np.asarray(observed.args[params["argument"]]).shape[1]
    x, y, _ = _strongest(observed.value, top)
    turned_x, turned_y, _ = _strongest(turned, int(np.ceil(top * params["slack"])))
    back_x, back_y = width - 1 - turned_y, turned_x
    if len(x) == 0 or len(back_x) == 0:
        return "no interest points returned for the image or for it turned by 90°", {}
    distance = _nearest(x, y, back_x, back_y)
    recall = float(np.mean(distance <= radius))
    details = {"rotation_recall": round(recall, 4)}
    if recall >= params["min_recall"]:
        return None, details
    moved = int(np.argmax(distance))
    return (f"turning the image by 90° changes your corners: only {recall:.0%} of your "
            f"{len(x)} strongest points come back within {radius:g} px (e.g. x={x[moved]:.0f}, "
            f"y={y[moved]:.0f}); a corner measure must treat the x and y gradients alike", details)


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

    The median over keypoints of each descriptor's largest component, as a share of the
    descriptor's length (so a descriptor scaled otherwise, say L1-normalised, is judged the
    same: clipping is about the shape of the histogram, not its scale), is about 0.2-0.28
    with Lowe's clipping and 0.42-0.46 without it on natural image windows, whatever the
    binning details.
    """
    values = np.abs(observed.value)
    lengths = np.linalg.norm(values, axis=1) if values.size else np.ones(1)
    largest = (values.max(axis=1) / np.where(lengths > 0, lengths, 1.0) if values.size
               else np.zeros(1))
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


def _photometric_variant(args: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The image with its contrast scaled by ``gain`` and its brightness moved by ``offset``."""
    image = np.asarray(args[params["argument"]])
    changed = image * params.get("gain", 1.0) + params.get("offset", 0.0)
    return {**args, params["argument"]: changed.astype(image.dtype)}


def _photometric_invariant(name: str, change: str, advice: str):
    """A property: descriptors unchanged (cosine) under the photometric change ``change``."""

    def test(observed: Observed, params: dict[str, Any]) -> Outcome:
        what = change.format(**params)
        try:
            other, _ = read.descriptors(observed.variants[name][0], len(observed.value))
        except read.OutputProblem as exc:
            return f"after {what}: {exc}", {}
        cosine = _cosines(observed.value, other)
        details = {f"min_cosine_{name}": round(float(cosine.min(initial=1)), 6)}
        if cosine.size == 0 or cosine.min() >= params["min_cosine"]:
            return None, details
        return (f"{what} changes descriptor {int(cosine.argmin())} (cosine "
                f"{cosine.min():.4f}); {advice}", details)

    return test


def _near_reference(observed: Observed, params: dict[str, Any]) -> Outcome:
    """The descriptors are close (mean cosine) to the reference's layout: 4x4 cells in row-major
    order, 8 orientation bins each. Where bin 0 starts and which way the bins turn are left free
    by the course (F18 asks only for an 8-orientation histogram per cell), so the student's
    bins are compared in every cyclic turn, both ways round, and the best is judged."""
    expected, _ = read.descriptors(observed.expected[0])
    if observed.value.shape != expected.shape:
        return (f"descriptors have shape {observed.value.shape}, expected {expected.shape} "
                "(one 128-D row per keypoint)", {})
    (shift, reverse), cosine = max(
        ((turn, _cosines(turned, expected)) for turn, turned in _bin_turns(observed.value)),
        key=lambda pair: float(pair[1].mean()) if pair[1].size else 1.0)
    mean = float(cosine.mean()) if cosine.size else 1.0
    details = {"mean_cosine": round(mean, 4), "min_cosine": round(float(cosine.min(initial=1)), 4),
               "bins_turned": shift, "bins_reversed": reverse}
    if mean >= params["min_cosine"]:
        return None, details
    return (f"descriptors differ from the expected SIFT-like layout (mean cosine similarity "
            f"{mean:.2f} at best, whichever bin starts the orientations; need "
            f"{params['min_cosine']:g}): check the 4x4 cell order (row-major), 8 orientation "
            "bins per cell from arctan2(dy, dx), and unit normalisation", details)


CELLS, BINS = 16, 8  # the course's SIFT-like layout: 4x4 cells of 8 orientation bins


def _bin_turns(values: np.ndarray):
    """``((shift, reversed), descriptors)`` with every cell's orientation bins turned by
    ``shift`` steps, counted one way or the other (the identity first); the descriptors as
    they are when they do not have the 128 values of the layout."""
    if values.ndim != 2 or values.shape[1] != CELLS * BINS:
        yield (0, False), values
        return
    grid = values.reshape(-1, CELLS, BINS)
    for reverse in (False, True):
        base = grid[..., ::-1] if reverse else grid
        for shift in range(BINS):
            yield (shift, reverse), np.roll(base, shift, axis=2).reshape(values.shape)


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


def _confident_matches(observed: Observed, params: dict[str, Any]) -> Outcome:
    """The first ``top`` matches returned are among the reference's ``top * slack`` best.

    Judged in the order returned, as the course evaluates matches (its
    notebook never reads the confidences). Missing rows count as misses, so
    an empty answer fails.
    """
    top = int(params["top"])
    best = {tuple(p) for p in np.asarray(observed.expected[0])[: int(np.ceil(top * params["slack"]))].tolist()}
    hits = sum(tuple(p) in best for p in observed.value.pairs[:top].tolist())
    details = {"precision_first": round(hits / top, 4), "distinctive": len(best)}
    if hits / top >= params["min_precision"]:
        return None, details
    return (f"only {hits} of your first {top} matches are among the {len(best)} most distinctive: "
            "rank matches by the ratio test, most confident first (a match whose second-nearest "
            "neighbour is almost as near is ambiguous)", details)


PROPERTIES: dict[str, Property] = {
    "keypoint_recall": Property(_keypoint_recall, {"top": 20, "slack": 2.0, "radius": 2.0,
                                                   "min_recall": 0.8}, needs_reference=True),
    "unit_norm": Property(_unit_norm, {"tol": 1e-3}),
    "clipped": Property(_clipped, {"max_median": 0.35, "clip": 0.2}),
    "keypoint_precision": Property(_keypoint_precision, {"top": 30, "pool": 150, "radius": 3.0,
                                                         "min_precision": 0.7}, needs_reference=True),
    "rotation_covariant": Property(_rotation_covariant, {"argument": "image", "top": 12, "slack": 1.5,
                                                         "radius": 1.5, "min_recall": 0.8},
                                   variant=_rot90_variant),
    "offset_invariant": Property(
        _photometric_invariant("offset_invariant", "adding {offset:g} to every pixel",
                               "build it from gradients only"),
        {"argument": "image", "offset": 0.1, "min_cosine": 0.999}, variant=_photometric_variant),
    "contrast_invariant": Property(
        _photometric_invariant("contrast_invariant", "multiplying every pixel by {gain:g}",
                               "normalise each descriptor to unit length before clipping it"),
        {"argument": "image", "gain": 0.5, "min_cosine": 0.999}, variant=_photometric_variant),
    "near_reference": Property(_near_reference, {"min_cosine": 0.8}, needs_reference=True),
    "same_matches": Property(_same_matches, {"min_recall": 1.0, "min_precision": 1.0},
                             needs_reference=True),
    "confident_matches": Property(_confident_matches, {"top": 10, "slack": 1.5, "min_precision": 0.9},
                                  needs_reference=True),
}
