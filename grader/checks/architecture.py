"""``architecture``: the student's network obeys the course's structural rules.

One sandbox request runs the driver ``drivers.cnn_inspection.describe_model``,
which builds the student's model and returns plain data: a JSON description
of its layers and the order a forward pass ran them, and its outputs on a
batch of images twice in ``eval()`` and twice in ``train()`` mode. This
trusted parent checks the rules the rubric names::

    options:
      model: SimpleNet            # called as model(num_classes, **model_kwargs)
      num_classes: 15
      model_kwargs: {}
      seed: 0
      require:
        output_shape: true                  # (N, num_classes) scores
        parameters: [10000, 2000000]        # total parameter count within [low, high]
        min_conv_layers: 3                  # at least this many Conv2d
        batchnorm_after_conv: true          # BN after every conv/linear except the last layer
        batchnorm_init: true                # BN weight 1, bias 0 at construction
        weight_init: 0.01                   # conv/linear weights N(0, 0.01²), zero biases at construction
        dropout: true                       # a Dropout layer with p > 0 runs in forward
        eval_disables_dropout: true         # eval() outputs repeat; train() outputs differ

Each case earns the fraction of the rules it meets; the message names those it breaks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import field_validator

from grader.checks import _driver_json as driver_json
from grader.checks.base import Verdict
from grader.checks._rules import DriverRulesCheck, RuleOptions
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.rubric.model import LocatedError
from grader.sandbox import CallOutcome
from grader.checks import KINDS

DRIVER = "drivers.cnn_inspection"
WEIGHTED = ("Conv1d", "Conv2d", "Conv3d", "Linear")


class Observed:
    """What the driver returned, validated: the description, the four output arrays, and the
    initial parameters, from which this side computes the statistics the rules judge.

    The driver runs in the student's interpreter, so nothing it *says* is taken on trust where
    it can be checked: each layer's parameter count and shapes must agree with the parameters
    sent, with its own channels and kernel, and with the model's total; the initial weights'
    mean, std and count and the batch norms' initial values are computed here, from the numbers.
    """

    def __init__(self, outputs: list[Any], batch: int):
        if len(outputs) != 6 or not all(isinstance(o, np.ndarray) for o in outputs):
            raise ValueError("the model's outputs could not be read (not arrays)")
        raw, *scores, parameters = outputs
        self.description = driver_json.description(raw, "model description")
        self.eval_1, self.eval_2, self.train_1, self.train_2 = (np.asarray(s, np.float64) for s in scores)
        self.batch = batch
        self.layers = {layer["name"]: layer for layer in self.description["layers"]}
        self.order = [self.layers[n] for n in self.description["forward_order"] if n in self.layers]
        _measure(self.description, np.asarray(parameters, np.float64).ravel())

    def of_type(self, *names: str) -> list[dict]:
        """Layers that ran in forward, in order, whose type (or a base class) is one of ``names``."""
        return [layer for layer in self.order
                if layer["type"] in names or set(layer.get("bases", [])) & set(names)]


def _measure(description: dict, values: np.ndarray) -> None:
    """Cut ``values`` into each layer's parameters (checking the description against them) and
    put the initial statistics the rules judge on the layers; raise ValueError on a mismatch."""
    offset = 0
    for layer in description["layers"]:
        params = {}
        for key, shape in layer.get("shapes", {}).items():
            count = int(np.prod(shape))
            params[key] = values[offset:offset + count].reshape(shape)
            offset += count
        _agrees(layer, params)
        layer.update(_statistics(layer, params))
    if offset != len(values) or not offset >= description["parameters"]:
        raise ValueError(f"the model's description does not agree with its parameters "
                         f"({offset:,} described, {len(values):,} sent, "
                         f"{description['parameters']:,} in the model)")
    description["counted_parameters"] = offset  # what the rules use: counted here


def _agrees(layer: dict, params: dict[str, np.ndarray]) -> None:
    """A layer's stated size and attributes must be those of its weights."""
    if sum(p.size for p in params.values()) != layer["parameters"]:
        raise ValueError(f"{layer['name']}: its parameter count does not match its parameters")
    weight = params.get("weight")
    if weight is None:
        return
    expected = None
    if layer["type"].startswith("Conv") and "out_channels" in layer:
        expected = [layer["out_channels"], None, *layer.get("kernel_size", [])]
    elif layer["type"] == "Linear":
        expected = [layer.get("out_features"), layer.get("in_features")]
    elif layer["type"].startswith("BatchNorm"):
        expected = [layer.get("num_features")]
    if expected and (len(expected) != weight.ndim or any(
            e is not None and e != n for e, n in zip(expected, weight.shape))):
        raise ValueError(f"{layer['name']}: a {layer['type']} whose weights have shape "
                         f"{list(weight.shape)} does not match its description")


def _statistics(layer: dict, params: dict[str, np.ndarray]) -> dict:
    """The initial values the rules look at, from the numbers themselves."""
    weight, bias = params.get("weight"), params.get("bias")
    if weight is None:
        return {}
    if layer["type"].startswith("BatchNorm"):
        return {"init_weight_one": bool(np.all(weight == 1)),
                "init_bias_zero": bool(bias is None or np.all(bias == 0))}
    if layer["type"] in WEIGHTED and weight.size > 1:
        return {"init_weight_mean": float(weight.mean()), "init_weight_std": float(weight.std(ddof=1)),
                "init_weight_count": int(weight.size),
                "init_bias_max_abs": float(np.abs(bias).max()) if bias is not None and bias.size else 0.0}
    return {}



def _output_shape(seen: Observed, _value: Any, num_classes: int) -> str | None:
    expected = (seen.batch, num_classes)
    return None if seen.eval_1.shape == expected else \
        f"the scores for {seen.batch} images have shape {seen.eval_1.shape}, expected {expected}"


def _parameters(seen: Observed, bounds: list[float], _num_classes: int) -> str | None:
    count, (low, high) = seen.description["counted_parameters"], bounds
    return None if low <= count <= high else \
        f"{count:,} parameters, outside the expected range {int(low):,}–{int(high):,}"


def _min_conv_layers(seen: Observed, minimum: int, _num_classes: int) -> str | None:
    count = len(seen.of_type("Conv2d"))
    return None if count >= minimum else f"{count} convolution layer(s) ran, at least {minimum} expected"


def _batchnorm_after_conv(seen: Observed, _value: Any, _num_classes: int) -> str | None:
    """Between each weighted layer and the next, a batch norm; none after the model's last one."""
    names = [layer["name"] for layer in seen.order]
    weighted = [i for i, layer in enumerate(seen.order) if layer["type"] in WEIGHTED]
    if not weighted:
        return "no convolution or linear layer ran"
    is_norm = [layer["type"].startswith("BatchNorm") for layer in seen.order]
    missing = [names[i] for i, end in zip(weighted, weighted[1:] + [len(names)])
               if i != weighted[-1] and not any(is_norm[i + 1:end])]
    if missing:
        return f"no batch normalisation after {', '.join(missing)}"
    if any(is_norm[weighted[-1] + 1:]):
        return f"batch normalisation after the last layer {names[weighted[-1]]}, which the course leaves out"
    return None


def _batchnorm_init(seen: Observed, _value: Any, _num_classes: int) -> str | None:
    norms = [layer for layer in seen.description["layers"] if "init_weight_one" in layer]
    wrong = [layer["name"] for layer in norms
             if not (layer["init_weight_one"] and layer["init_bias_zero"])]
    return None if not wrong else f"batch norm not initialised to weight 1, bias 0: {', '.join(wrong)}"


def _weight_init(seen: Observed, std: float, _num_classes: int) -> str | None:
    """Each conv/linear layer's initial weights look like N(0, std²) draws; its biases are zero.

    The tolerances are four standard errors of the sample's mean and standard
    deviation (at least 25 % on the latter), so a layer of any size drawn as
    asked passes and one drawn from another scale (PyTorch's default uniform
    initialisation, twice the std) does not.
    """
    layers = [layer for layer in seen.description["layers"] if "init_weight_std" in layer]
    if not layers:
        return "no convolution or linear layer to check the initialisation of"
    wrong = [f"{layer['name']} ({problem})" for layer in layers if (problem := _init_problem(layer, std))]
    return None if not wrong else \
        f"weights not initialised N(0, {std:g}²) with zero biases: {'; '.join(wrong)}"


def _init_problem(layer: dict, std: float) -> str | None:
    """What is off in one layer's initial weights, or ``None``; written so that NaN is off."""
    count = max(float(layer["init_weight_count"]), 1.0)
    std_tolerance = max(0.25, 4 / np.sqrt(2 * count)) * std
    if not abs(layer["init_weight_std"] - std) <= std_tolerance:
        return f"std {layer['init_weight_std']:.3g}"
    if not abs(layer["init_weight_mean"]) <= 4 * std / np.sqrt(count):
        return f"mean {layer['init_weight_mean']:.3g}"
    if not layer["init_bias_max_abs"] <= 1e-6:
        return f"a bias of {layer['init_bias_max_abs']:.3g}"
    return None


def _dropout(seen: Observed, _value: Any, _num_classes: int) -> str | None:
    live = [layer for layer in seen.of_type("Dropout", "Dropout2d", "_DropoutNd") if layer.get("p", 0) > 0]
    return None if live else "no dropout layer (with p > 0) ran in forward"


def _eval_disables_dropout(seen: Observed, _value: Any, _num_classes: int) -> str | None:
    if seen.eval_1.shape != seen.eval_2.shape or not np.allclose(seen.eval_1, seen.eval_2, atol=1e-6):
        return "two forward passes in eval() mode gave different scores"
    if _dropout(seen, None, 0) is None and seen.train_1.shape == seen.train_2.shape and \
            np.allclose(seen.train_1, seen.train_2, atol=1e-7):
        return "two forward passes in train() mode gave the same scores: dropout is not active"
    return None


RULES: dict[str, Callable[[Observed, Any, int], str | None]] = {
    "output_shape": _output_shape,
    "parameters": _parameters,
    "min_conv_layers": _min_conv_layers,
    "batchnorm_after_conv": _batchnorm_after_conv,
    "batchnorm_init": _batchnorm_init,
    "weight_init": _weight_init,
    "dropout": _dropout,
    "eval_disables_dropout": _eval_disables_dropout,
}


class ArchitectureOptions(RuleOptions):
    """The options of an ``architecture`` check; all but ``require`` go to the driver."""

    rules = RULES

    model: str = "SimpleNet"
    """the class (or function) of the student's module that builds the network, called
    ``model(num_classes, **model_kwargs)``"""
    num_classes: int = 15
    """how many classes the network scores (``output_shape`` expects ``(N, num_classes)``)"""
    model_kwargs: dict[str, Any] = {}
    """keyword arguments of ``model`` besides the number of classes"""
    seed: int = 0
    """seed of torch's random numbers, set before the model is built (its initial weights, its
    dropout in ``train()`` mode)"""

    @field_validator("require")
    @classmethod
    def _rule_parameters(cls, require: dict[str, Any]) -> dict[str, Any]:
        bounds = require.get("parameters", [0, 1])
        if not (isinstance(bounds, list) and len(bounds) == 2 and bounds[0] <= bounds[1]):
            raise LocatedError(("parameters",), "parameters must be [low, high]", relative=True)
        std = require.get("weight_init", 1.0)
        if isinstance(std, bool) or not isinstance(std, (int, float)) or std <= 0:
            raise LocatedError(("weight_init",), "weight_init must be the standard deviation of "
                               "the initial weights, e.g. 0.01", relative=True)
        return require


@KINDS.register
class ArchitectureCheck(DriverRulesCheck):
    name = "architecture"
    driver, driver_function = DRIVER, "describe_model"
    options_model = ArchitectureOptions

    def judge(self, outputs: list[Any], case: PreparedCase, prepared: PreparedCheck,
              outcome: CallOutcome) -> Verdict:
        options = ArchitectureOptions.of(prepared.check)
        try:
            seen = Observed(outputs, len(case.args[0]))
        except (ValueError, KeyError, TypeError) as exc:
            return Verdict(False, str(exc))
        broken = [problem for name, value in options.require.items()
                  if (problem := RULES[name](seen, value, options.num_classes))]
        return self.verdict(broken, len(options.require), {
            "parameters": seen.description["parameters"],
            "layers": [layer["type"] for layer in seen.order]})
