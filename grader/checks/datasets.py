"""``datasets``: the student's ``create_datasets`` builds the pipelines the course asks for.

One sandbox request runs the driver ``drivers.cnn_datasets.describe_datasets``:
it writes the case's images as a small ``train/<class>/``, ``test/<class>/``
folder, calls ``create_datasets(folder, input_size, rgb)`` and returns a
description of both datasets (lengths, item shape, per-channel statistics,
labels, repeated reads). This trusted parent knows the pixels it sent, so it
computes what the statistics must be and checks the rules the rubric names::

    kind: datasets
    target: student_code:create_datasets
    options:
      input_size: [64, 64]        # the images are sent at this size, so resize and crop keep them
      rgb: false
      require:
        sizes: true                      # every image, one (C, H, W) tensor each
        labels: true                     # one label per class folder, as ImageFolder numbers them
        normalised: true                 # training tensors have mean 0 and std 1 per channel
        test_uses_train_statistics: true # the test set is normalised with the training statistics
        train_flip: true                 # training reads flip left-right at random
        test_deterministic: true         # test reads are always the same tensor
    cases:
      - args: {train_images: ..., train_labels: ..., test_images: ..., test_labels: ...}

Give the test images other statistics than the training ones (e.g. a lower
``gain``), or normalising the test set with its own statistics cannot be
told apart. Each case earns the fraction of the rules it meets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from grader.checks import _driver_json as driver_json
from grader.checks.base import Verdict
from grader.checks._rules import DriverRulesCheck, RuleOptions
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.sandbox import CallOutcome
from grader.checks import KINDS

DRIVER = "drivers.cnn_datasets"
TOLERANCE = 0.05  # on means and standard deviations of normalised pixels


@dataclass(frozen=True)
class Sent:
    """The case's data as this process sent it: pixels in [0, 1] and labels, per split."""

    train: np.ndarray
    train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    channels: int

    def statistics(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and std of the pixels ``split`` sent, as ``(C,)`` arrays."""
        pixels = (self.train if split == "train" else self.test).reshape(-1, self.channels)
        return pixels.mean(axis=0), pixels.std(axis=0)


def _sizes(seen: dict, sent: Sent) -> str | None:
    wanted = {"train": len(sent.train), "test": len(sent.test)}
    shape = [sent.channels, *sent.train.shape[1:3]]
    for split, count in wanted.items():
        if seen[split]["length"] != count:
            return f"the {split} dataset has {seen[split]['length']} items for {count} images"
        if seen[split]["shape"] != shape:
            return f"a {split} item has shape {tuple(seen[split]['shape'])}, expected {tuple(shape)}"
    return None


def _labels(seen: dict, sent: Sent) -> str | None:
    classes = sorted(set(sent.train_labels.tolist()) | set(sent.test_labels.tolist()))
    index = {label: position for position, label in enumerate(classes)}
    for split, labels in (("train", sent.train_labels), ("test", sent.test_labels)):
        if Counter(seen[split]["labels"]) != Counter(index[label] for label in labels.tolist()):
            return f"the {split} labels do not follow the class folders (one label per folder, sorted)"
    return None


def _normalised(seen: dict, sent: Sent) -> str | None:
    mean, std = seen["train"]["mean"], seen["train"]["std"]
    if all(abs(m) <= TOLERANCE for m in mean) and all(abs(s - 1) <= TOLERANCE for s in std):
        return None
    return (f"training tensors have mean {_listed(mean)} and std {_listed(std)}: normalise with "
            "the training set's mean and std (transforms.Normalize after ToTensor)")


def _test_uses_train_statistics(seen: dict, sent: Sent) -> str | None:
    (train_mean, train_std), (test_mean, test_std) = sent.statistics("train"), sent.statistics("test")
    wanted_mean, wanted_std = (test_mean - train_mean) / train_std, test_std / train_std
    mean, std = np.asarray(seen["test"]["mean"]), np.asarray(seen["test"]["std"])
    if mean.shape == wanted_mean.shape and np.all(np.abs(mean - wanted_mean) <= TOLERANCE) \
            and np.all(np.abs(std - wanted_std) <= TOLERANCE):
        return None
    return (f"test tensors have mean {_listed(mean)} and std {_listed(std)}; normalised with the "
            f"training statistics they would have {_listed(wanted_mean)} and {_listed(wanted_std)} "
            "(the test set's own statistics are unknown when the model is used)")


def _train_flip(seen: dict, sent: Sent) -> str | None:
    if any(read["mirror_seen"] for read in seen["train"]["reads"]):
        return None
    return "repeated reads of training images never flip them: add transforms.RandomHorizontalFlip()"


def _test_deterministic(seen: dict, sent: Sent) -> str | None:
    if all(read["all_equal"] for read in seen["test"]["reads"]):
        return None
    return "reading a test image twice gives different tensors: no random augmentation at test time"


def _listed(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


RULES: dict[str, Callable[[dict, Sent], str | None]] = {
    "sizes": _sizes,
    "labels": _labels,
    "normalised": _normalised,
    "test_uses_train_statistics": _test_uses_train_statistics,
    "train_flip": _train_flip,
    "test_deterministic": _test_deterministic,
}


class DatasetsOptions(RuleOptions):
    """The options of a ``datasets`` check; all but ``require`` go to the driver."""

    rules = RULES

    input_size: tuple[int, int] = (64, 64)
    """``[height, width]`` in pixels that ``create_datasets`` is given; the case's images must
    have that size already, so resizing and cropping keep them whole"""
    rgb: bool = Field(False, strict=True)
    """``create_datasets``'s ``rgb``: the images read in colour (3 channels) or grey (1)"""
    seed: int = 0
    """seed of torch's random numbers, set before ``create_datasets`` (its random
    augmentations)"""

    @field_validator("input_size", mode="before")
    @classmethod
    def _pixels(cls, size: Any) -> Any:
        if not (isinstance(size, list) and len(size) == 2
                and all(isinstance(v, int) and v > 0 for v in size)):
            raise ValueError("input_size must be [height, width] in pixels")
        return size


@KINDS.register
class DatasetsCheck(DriverRulesCheck):
    name = "datasets"
    driver, driver_function = DRIVER, "describe_datasets"
    options_model = DatasetsOptions

    def judge(self, outputs: list[Any], case: PreparedCase, prepared: PreparedCheck,
              outcome: CallOutcome) -> Verdict:
        options = DatasetsOptions.of(prepared.check)
        try:
            seen = driver_json.description(outputs[0] if len(outputs) == 1 else None,
                                           "description of the datasets")
            sent = _sent(case, options)
            broken = [problem for name in options.require if (problem := RULES[name](seen, sent))]
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            return Verdict(False, f"the datasets could not be read: {exc}")
        return self.verdict(broken, len(options.require),
                            {"train_mean": seen["train"]["mean"], "test_mean": seen["test"]["mean"]})


def _sent(case: PreparedCase, options: DatasetsOptions) -> Sent:
    train, train_labels, test, test_labels = (np.asarray(a) for a in case.args)
    if train.shape[1:3] != options.input_size or test.shape[1:3] != options.input_size:
        raise ValueError("the rubric's images must already have the input_size")
    return Sent(train.astype(np.float64) / 255.0, train_labels, test.astype(np.float64) / 255.0,
                test_labels, 3 if options.rgb else 1)
