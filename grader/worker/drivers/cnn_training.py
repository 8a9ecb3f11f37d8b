"""Train the student's CNN with their own settings under a time budget; predict the test images.

Called by the ``training`` check (``grader/checks/training.py``) as one step::

    predictions, epoch_losses, info = train_and_predict(
        "student_code", config_json, train_images, train_labels, test_images)

The course notebook's procedure: build ``model = SimpleNet(num_classes)``,
ask ``custom_part1_trainer(model)`` for settings (``None`` → the course
defaults; a dict may set ``loss_function``, ``optimizer``, ``lr_scheduler``
and ``params = {n_epochs, batch_size}``), train for ``n_epochs`` — here, or
until the device's time budget is spent — stepping the scheduler once per
epoch, and classify the test images in ``eval()`` mode. Images are
normalised with the **training** set's mean and standard deviation; random
left-right flips are applied when the config asks for them. Test labels
never come here: the parent computes the accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from . import device as devices
from .student import load

# The F18 notebook's defaults for Part 1.
DEFAULT_PARAMS = {"n_epochs": 100, "batch_size": 50}
DEFAULT_OPTIMIZER: dict[str, Any] = {"lr": 1e-2, "momentum": 0.9, "weight_decay": 5e-4}
DEFAULT_STEP: dict[str, Any] = {"step_size": 60, "gamma": 0.1}
PREDICT_BATCH = 250


@dataclass
class Settings:
    """What ``custom_part1_trainer`` chose, completed with the course defaults."""

    loss_function: Any
    optimizer: torch.optim.Optimizer
    lr_scheduler: Any
    n_epochs: int
    batch_size: int
    custom: bool


@dataclass
class TrainingLog:
    """Mean training loss per (possibly partial) epoch, epochs completed, seconds, why it stopped."""

    losses: list[float]
    epochs: float
    seconds: float
    stopped_by: str


def train_and_predict(module_name: str, config_json: str, train_images: np.ndarray,
                      train_labels: np.ndarray, test_images: np.ndarray):
    """Train the student's model on the training split and label the test images.

    Parameters
    ----------
    module_name : str
        The student's module, e.g. ``"student_code"``.
    config_json : str
        JSON with ``model``, ``trainer`` (or null), ``num_classes``,
        ``model_kwargs``, ``device`` (``cpu``/``cuda``/``any``),
        ``time_budget_s`` (``{"cpu": s, "cuda": s}``), ``seed``, ``flip``, ``max_threads``,
        and ``cuda_budget_by_name`` (GPU name → seconds: the budget on a GPU model the
        reference's own training was measured on; other GPUs get ``time_budget_s["cuda"]``).
    train_images : (N, H, W) or (N, H, W, C) uint8 or float ndarray
        Pixels in 0–255 (uint8) or [0, 1] (float).
    train_labels : (N,) int ndarray
    test_images : (M, H, W) or (M, H, W, C) ndarray, like ``train_images``

    Returns
    -------
    predictions : (M,) int64 ndarray
        The class with the highest score for each test image.
    epoch_losses : (E,) float64 ndarray
        Mean training loss of each epoch run (the last may be partial).
    info : str
        JSON: device and its name, threads, epochs completed, training seconds, the budget
        and where it came from, the GPU memory cap, why training stopped.
    """
    config = json.loads(config_json)
    device = devices.pick_device(config["device"])
    device_name = devices.name(device)
    budget, basis = devices.training_budget(device, device_name, config)
    gpu_cap_mb = devices.cap_gpu_memory(device)  # before the student's model takes any
    threads = devices.set_threads(int(config.get("max_threads", 16)))
    student = load(module_name)
    generator = devices.seed_everything(int(config["seed"]))
    with devices.out_of_memory_as_memory_error(device, gpu_cap_mb):
        model = getattr(student, config["model"])(config["num_classes"], **config.get("model_kwargs", {}))
        if not isinstance(model, nn.Module):
            raise TypeError(f"{config['model']}(...) returned a {type(model).__name__}, not an nn.Module")
        model.to(device)
        trainer = getattr(student, config["trainer"]) if config.get("trainer") else None
        settings = course_settings(model, trainer(model) if trainer else None)
        x_train, x_test, mean, std = normalise(train_images, test_images)
        log = fit(model, settings, x_train.to(device), torch.as_tensor(train_labels).long().to(device),
                  device, generator, budget, bool(config.get("flip", False)))
        predictions = predict(model, x_test, device)
    info = {"device": devices.describe(device), "device_type": device.type,
            "device_name": device_name, "threads": threads,
            "epochs_completed": round(log.epochs, 3), "train_seconds": round(log.seconds, 3),
            "time_budget_s": budget, "budget_basis": basis, "gpu_memory_cap_mb": gpu_cap_mb,
            "stopped_by": log.stopped_by, "n_epochs": settings.n_epochs,
            "batch_size": settings.batch_size, "custom_settings": settings.custom,
            "normalisation": {"mean": round(mean, 6), "std": round(std, 6)}}
    return predictions, np.asarray(log.losses, dtype=np.float64), json.dumps(info)


def course_settings(model: nn.Module, custom) -> Settings:
    """The student's settings dict (or ``None``) completed with the course defaults."""
    if custom is None:
        custom = {}
    if not isinstance(custom, dict):
        raise TypeError(f"the trainer function must return None or a dict, not {type(custom).__name__}")
    params = {**DEFAULT_PARAMS, **(custom.get("params") or {})}
    optimizer = custom.get("optimizer") or torch.optim.SGD(model.parameters(), **DEFAULT_OPTIMIZER)
    scheduler = custom.get("lr_scheduler") or torch.optim.lr_scheduler.StepLR(optimizer, **DEFAULT_STEP)
    return Settings(custom.get("loss_function") or nn.CrossEntropyLoss(), optimizer, scheduler,
                    int(params["n_epochs"]), int(params["batch_size"]), bool(custom))


def normalise(train: np.ndarray, test: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """Both splits as (N, C, H, W) float32, standardised with the training set's mean and std."""
    x_train, x_test = as_batch(train), as_batch(test)
    mean, std = float(x_train.mean()), float(x_train.std())
    return (x_train - mean) / std, (x_test - mean) / std, mean, std


def as_batch(images: np.ndarray) -> torch.Tensor:
    """(N, H, W) or (N, H, W, C) pixels → (N, C, H, W) float32 in [0, 1]."""
    array = np.asarray(images)
    scaled = array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)
    tensor = torch.from_numpy(np.ascontiguousarray(scaled))
    return tensor.unsqueeze(1) if tensor.ndim == 3 else tensor.permute(0, 3, 1, 2).contiguous()


def fit(model: nn.Module, settings: Settings, images: torch.Tensor, labels: torch.Tensor,
        device: torch.device, generator: torch.Generator, budget_s: float, flip: bool,
        after_epoch: Callable[[int, float, float], None] | None = None,
        clock: Callable[[], float] | None = None) -> TrainingLog:
    """Mini-batch training for ``n_epochs`` or until ``budget_s`` seconds of ``clock``
    (default :func:`device.clock`: device-synchronised, CPU time of all threads on the CPU).

    ``after_epoch(epoch, seconds, mean_loss)`` is called after every whole epoch (the CNN
    benchmark evaluates there); the time it takes is not counted.
    """
    read = clock or (lambda: devices.clock(device))
    count, losses, epochs = len(images), [], 0.0
    started = read()
    for _ in range(settings.n_epochs):
        model.train()
        order = torch.randperm(count, generator=generator).to(device)
        flips = (torch.rand(count, generator=generator) < 0.5).to(device) if flip else None
        total, seen, out_of_time = 0.0, 0, False
        for start in range(0, count, settings.batch_size):
            batch = order[start:start + settings.batch_size]
            if len(batch) < 2:  # a squeezed batch of one has no batch axis
                continue
            x = images[batch]
            if flips is not None:
                x = torch.where(flips[batch][:, None, None, None], x.flip(-1), x)
            loss = settings.loss_function(model(x), labels[batch])
            settings.optimizer.zero_grad()
            loss.backward()
            settings.optimizer.step()
            total, seen = total + float(loss.item()) * len(batch), seen + len(batch)
            if read() - started >= budget_s:
                out_of_time = True
                break
        losses.append(total / max(seen, 1))
        if out_of_time:
            return TrainingLog(losses, epochs + seen / count, read() - started, "budget")
        settings.lr_scheduler.step()
        epochs += 1
        if after_epoch is not None:
            paused = read()
            after_epoch(int(epochs), paused - started, losses[-1])
            started += read() - paused
    return TrainingLog(losses, epochs, read() - started, "epochs")


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, device: torch.device) -> np.ndarray:
    """(M,) int64 argmax class of each image, in ``eval()`` mode, in batches."""
    model.eval()
    labels = []
    for start in range(0, len(images), PREDICT_BATCH):
        x = images[start:start + PREDICT_BATCH].to(device)
        scores = model(x)
        if scores.ndim == 1 and len(x) == 1:
            scores = scores[None]
        if scores.ndim != 2 or scores.shape[0] != len(x):
            raise ValueError(f"the model returned scores of shape {tuple(scores.shape)} for a batch "
                             f"of {len(x)} images; expected ({len(x)}, num_classes)")
        labels.append(scores.argmax(dim=1).cpu())
    return torch.cat(labels).numpy().astype(np.int64)
