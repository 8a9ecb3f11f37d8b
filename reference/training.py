"""The course's training procedure for proj4_cnn (the course's Project 6), on arrays: seeded, timed, evaluated every epoch.

This is the answer key's loop (used by the benchmark and the tests); the
grader trains student models with its own driver inside the sandbox
(``grader/sandbox/worker/drivers/cnn_training.py``), which follows the same
procedure and stops on a time budget. Images are standardised with the
**training** set's mean and standard deviation; training images are flipped
left-right at random. The device is ``cuda`` when available, else the CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["EpochRecord", "course_defaults", "evaluate", "pick_device", "standardise", "train"]


@dataclass(frozen=True)
class EpochRecord:
    """After epoch ``epoch``: cumulative training ``seconds``, mean ``loss``, test ``accuracy``."""

    epoch: int
    seconds: float
    loss: float
    accuracy: float


def pick_device() -> torch.device:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def course_defaults(model: nn.Module) -> dict:
    """The F18 notebook's Part 1 settings: SGD(1e-2, 0.9, wd 5e-4), StepLR(60, 0.1), 100 × 50."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, weight_decay=5e-4)
    return {"loss_function": nn.CrossEntropyLoss(), "optimizer": optimizer,
            "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, step_size=60, gamma=0.1),
            "params": {"n_epochs": 100, "batch_size": 50}}


def standardise(train_images: np.ndarray, test_images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, H, W) uint8 images → (N, 1, H, W) float32, standardised with the training statistics."""
    train = torch.from_numpy(train_images.astype(np.float32) / 255.0).unsqueeze(1)
    test = torch.from_numpy(test_images.astype(np.float32) / 255.0).unsqueeze(1)
    mean, std = train.mean(), train.std()
    return (train - mean) / std, (test - mean) / std


def train(model: nn.Module, settings: dict | None, train_images: np.ndarray, train_labels: np.ndarray,
          test_images: np.ndarray, test_labels: np.ndarray, *, seed: int = 0, flip: bool = True,
          budget_s: float | None = None, device: torch.device | None = None) -> list[EpochRecord]:
    """Train ``model`` with ``settings`` (``None`` → :func:`course_defaults`), evaluating every epoch.

    Parameters
    ----------
    model : nn.Module
        Built after ``torch.manual_seed(seed)`` by the caller for a reproducible start.
    settings : dict or None
        ``loss_function``, ``optimizer``, ``lr_scheduler`` (stepped per epoch), ``params``.
    train_images, test_images : (N, H, W) uint8 ndarray
    train_labels, test_labels : (N,) int ndarray
    seed : int
        Seeds the batch order and the flips.
    budget_s : float, optional
        Stop after the first epoch that ends past this many seconds of training.

    Returns
    -------
    list of EpochRecord
        Evaluation time is not counted in ``seconds``.
    """
    device = device or pick_device()
    settings = {**course_defaults(model), **(settings or {})}
    n_epochs, batch = settings["params"]["n_epochs"], settings["params"]["batch_size"]
    x_train, x_test = standardise(train_images, test_images)
    x_train, y_train = x_train.to(device), torch.as_tensor(train_labels).long().to(device)
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    records, seconds = [], 0.0
    for epoch in range(1, n_epochs + 1):
        started = time.perf_counter()
        loss = _one_epoch(model, settings, x_train, y_train, batch, generator, flip)
        settings["lr_scheduler"].step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds += time.perf_counter() - started
        records.append(EpochRecord(epoch, seconds, loss, evaluate(model, x_test, test_labels)))
        if budget_s is not None and seconds >= budget_s:
            break
    return records


def _one_epoch(model, settings, images, labels, batch, generator, flip) -> float:
    model.train()
    order = torch.randperm(len(images), generator=generator).to(images.device)
    flips = (torch.rand(len(images), generator=generator) < 0.5).to(images.device)
    total = 0.0
    for start in range(0, len(images) - 1, batch):
        index = order[start:start + batch]
        x = torch.where(flips[index][:, None, None, None], images[index].flip(-1), images[index]) \
            if flip else images[index]
        loss = settings["loss_function"](model(x), labels[index])
        settings["optimizer"].zero_grad()
        loss.backward()
        settings["optimizer"].step()
        total += float(loss.item()) * len(index)
    return total / len(images)


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: np.ndarray, batch: int = 250) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` in ``eval()`` mode on standardised ``images``."""
    model.eval()
    device = next(model.parameters()).device
    predicted = torch.cat([model(images[i:i + batch].to(device)).reshape(len(images[i:i + batch]), -1)
                           .argmax(dim=1).cpu() for i in range(0, len(images), batch)])
    return float((predicted.numpy() == np.asarray(labels)).mean())
