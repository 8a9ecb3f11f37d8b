"""Describe the student's CNN as plain data: its layers, their forward order, its outputs.

Called by the ``architecture`` check (``grader/checks/architecture.py``)::

    description, eval_1, eval_2, train_1, train_2 = describe_model(
        "student_code", config_json, images)

``description`` is UTF-8 JSON carried in a uint8 array (it can exceed the
worker's limit on returned text): every leaf module with its type, its
parameter count, the shapes of its parameters and the attributes the course's
rules talk about (channels, kernel, stride, padding, dropout probability), the
order in which a forward pass *ran* them (recorded by forward hooks, so it is
right however ``forward`` is written), and the parameter totals. The four
outputs are the scores for ``images`` twice in ``eval()`` mode and twice in
``train()`` mode: dropout must make the latter two differ and must not touch
the former. ``parameters`` is every leaf's initial parameters, flattened and
concatenated in the description's order: the parent computes the initial
weights' statistics from them itself and checks them against the shapes and
counts described.

This runs in the student's interpreter, after the student's module is imported, so
the helpers it uses are bound when this module is imported (before any student code):
rebinding ``drivers.cnn_inspection._layers`` later changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import device as devices
from .cnn_training import as_batch
from .student import load

_ATTRIBUTES = ("in_channels", "out_channels", "kernel_size", "stride", "padding",
               "in_features", "out_features", "num_features", "p")


def _layers(model: nn.Module) -> tuple[list[dict], np.ndarray]:
    """Every leaf module (no children): name, type, parameter count and shapes, course-relevant
    attributes; and all their parameters, flattened and concatenated in that order."""
    layers, values = [], []
    for name, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        own = list(module.named_parameters(recurse=False))
        entry = {"name": name, "type": type(module).__name__,
                 "bases": [base.__name__ for base in type(module).__mro__[1:4]],
                 "parameters": sum(p.numel() for _, p in own),
                 "shapes": {key: list(p.shape) for key, p in own}}
        for attribute in _ATTRIBUTES:
            value = getattr(module, attribute, None)
            if isinstance(value, (int, float, tuple)) and not isinstance(value, bool):
                entry[attribute] = list(value) if isinstance(value, tuple) else value
        values += [p.detach().double().cpu().reshape(-1).numpy() for _, p in own]
        layers.append(entry)
    return layers, np.concatenate(values) if values else np.zeros(0)


def _forward_order(model: nn.Module, batch: torch.Tensor) -> list[str]:
    """Names of the leaf modules in the order one ``eval()`` forward pass called them."""
    order: list[str] = []
    hooks = [module.register_forward_hook(lambda *_, name=name: order.append(name))
             for name, module in model.named_modules() if not any(True for _ in module.children())]
    try:
        model.eval()
        with torch.no_grad():
            model(batch[:2])
    finally:
        for hook in hooks:
            hook.remove()
    return order


@dataclass(frozen=True)
class _Tools:
    """The helpers ``describe_model`` uses, bound before any student code runs."""

    load: Callable
    seed: Callable
    as_batch: Callable
    layers: Callable
    forward_order: Callable


_TOOLS = _Tools(load, devices.seed_everything, as_batch, _layers, _forward_order)


def describe_model(module_name: str, config_json: str, images: np.ndarray, *,
                   _tools: _Tools = _TOOLS):
    """Build the student's model (seeded) and describe it; see the module docstring.

    Parameters
    ----------
    module_name : str
    config_json : str
        JSON with ``model``, ``num_classes``, ``model_kwargs`` and ``seed``.
    images : (N, H, W) or (N, H, W, C) ndarray
        A batch of inputs (uint8 0–255 or float in [0, 1]); fed as given, not normalised.

    Returns
    -------
    description : (B,) uint8 ndarray
        UTF-8 JSON bytes.
    eval_1, eval_2, train_1, train_2 : ndarray
        The model's outputs as returned (shape unchanged), float32.
    parameters : (P,) float64 ndarray
        Every leaf's initial parameters, flattened, in the description's order.
    """
    tools = _tools  # bound when this module was imported
    config = json.loads(config_json)
    torch.set_num_threads(1)
    student = tools.load(module_name)
    tools.seed(int(config.get("seed", 0)))
    model = getattr(student, config["model"])(config["num_classes"], **config.get("model_kwargs", {}))
    if not isinstance(model, nn.Module):
        raise TypeError(f"{config['model']}(...) returned a {type(model).__name__}, not an nn.Module")
    layers, initial = tools.layers(model)  # before any forward pass changes a running statistic
    batch = tools.as_batch(images)
    order, outputs = tools.forward_order(model, batch), []
    with torch.no_grad():
        for mode in (False, False, True, True):
            model.train(mode)
            outputs.append(model(batch).detach().float().cpu().numpy())
    description = {"layers": layers, "forward_order": order,
                   "parameters": sum(p.numel() for p in model.parameters()),
                   "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    return (np.frombuffer(json.dumps(description).encode(), dtype=np.uint8).copy(), *outputs,
            initial)
