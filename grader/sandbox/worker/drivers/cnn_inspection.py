"""Describe the student's CNN as plain data: its layers, their forward order, its outputs.

Called by the ``architecture`` check (``grader/checks/architecture.py``)::

    description, eval_1, eval_2, train_1, train_2 = describe_model(
        "student_code", config_json, images)

``description`` is UTF-8 JSON carried in a uint8 array (it can exceed the
worker's limit on returned text): every leaf module with its type, its
parameter count and the attributes the course's rules talk about
(channels, kernel, stride, padding, dropout probability, batch-norm initial
weight and bias, the mean and standard deviation of each convolution's and
linear layer's initial weights and its largest initial bias), the order in which a forward pass *ran* them (recorded by
forward hooks, so it is right however ``forward`` is written), and the
parameter totals. The four outputs are the scores for ``images`` twice in
``eval()`` mode and twice in ``train()`` mode: dropout must make the latter
two differ and must not touch the former.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn

from drivers import device as devices
from drivers.cnn_training import as_batch
from drivers.student import load

_ATTRIBUTES = ("in_channels", "out_channels", "kernel_size", "stride", "padding",
               "in_features", "out_features", "num_features", "p")
_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def describe_model(module_name: str, config_json: str, images: np.ndarray):
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
    """
    config = json.loads(config_json)
    torch.set_num_threads(1)
    student = load(module_name)
    devices.seed_everything(int(config.get("seed", 0)))
    model = getattr(student, config["model"])(config["num_classes"], **config.get("model_kwargs", {}))
    if not isinstance(model, nn.Module):
        raise TypeError(f"{config['model']}(...) returned a {type(model).__name__}, not an nn.Module")
    batch = as_batch(images)
    order, outputs = _forward_order(model, batch), []
    with torch.no_grad():
        for mode in (False, False, True, True):
            model.train(mode)
            outputs.append(model(batch).detach().float().cpu().numpy())
    description = {"layers": _layers(model), "forward_order": order,
                   "parameters": sum(p.numel() for p in model.parameters()),
                   "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    return (np.frombuffer(json.dumps(description).encode(), dtype=np.uint8).copy(), *outputs)


def _layers(model: nn.Module) -> list[dict]:
    """Every leaf module (no children): name, type, own parameter count, course-relevant attributes."""
    layers = []
    for name, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        entry = {"name": name, "type": type(module).__name__,
                 "bases": [base.__name__ for base in type(module).__mro__[1:4]],
                 "parameters": sum(p.numel() for p in module.parameters(recurse=False))}
        for attribute in _ATTRIBUTES:
            value = getattr(module, attribute, None)
            if isinstance(value, (int, float, tuple)) and not isinstance(value, bool):
                entry[attribute] = list(value) if isinstance(value, tuple) else value
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            entry["init_weight_one"] = bool(torch.all(module.weight == 1))
            entry["init_bias_zero"] = bool(torch.all(module.bias == 0))
        elif isinstance(module, _WEIGHTED) and module.weight.numel() > 1:
            entry.update(_initial_weights(module))
        layers.append(entry)
    return layers


def _initial_weights(module: nn.Module) -> dict:
    """Mean, standard deviation and count of a layer's weights; its largest absolute bias (0 if none)."""
    weight = module.weight.detach().double()
    bias = module.bias.detach().abs().max().item() if module.bias is not None else 0.0
    return {"init_weight_mean": weight.mean().item(), "init_weight_std": weight.std().item(),
            "init_weight_count": weight.numel(), "init_bias_max_abs": bias}


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
