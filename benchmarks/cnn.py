"""Time to accuracy of the reference SimpleNet on 15-scene (64 × 64 grayscale), as a Markdown table.

    python benchmarks/cnn.py [--budget 180] [--variants]

Trains with the reference's settings (``reference.cnn.custom_part1_trainer``) through the
grader's own training loop (``grader/worker/drivers/cnn_training.py``, the one copy:
the training check runs it in the sandbox), evaluating on the test split after every epoch
(not counted), on ``cuda`` when available (else the CPU, with all its cores). Seconds are
wall seconds of training. ``--variants`` also trains SimpleNet without batch norm and/or
dropout. Needs the course data (``GRADER_DATA``).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import torch

from grader.datasets.scenes import load_scenes
from grader.worker.drivers import cnn_training as loop
from grader.worker.drivers import device as devices
from reference import cnn

MILESTONES = (0.40, 0.50, 0.55, 0.60, 0.65, 0.70)


@dataclass(frozen=True)
class EpochRecord:
    """After epoch ``epoch``: training ``seconds`` so far, mean ``loss``, test ``accuracy``."""

    epoch: int
    seconds: float
    loss: float
    accuracy: float


def train(model: torch.nn.Module, budget_s: float, device: torch.device) -> list[EpochRecord]:
    """Train ``model`` on 15-scene's training split; one record per epoch."""
    train_split, test_split = load_scenes("train"), load_scenes("test")
    model.to(device)
    settings = loop.course_settings(model, cnn.custom_part1_trainer(model))
    x_train, x_test, _, _ = loop.normalise(train_split.images, test_split.images)
    labels = torch.as_tensor(train_split.labels).long().to(device)
    records: list[EpochRecord] = []

    def evaluate(epoch: int, seconds: float, loss: float) -> None:
        predicted = loop.predict(model, x_test, device)
        records.append(EpochRecord(epoch, seconds, loss,
                                   float((predicted == test_split.labels).mean())))

    wall = (lambda: devices.clock(device)) if device.type == "cuda" else time.perf_counter
    loop.fit(model, settings, x_train.to(device), labels, device, devices.seed_everything(0),
             budget_s, flip=True, after_epoch=evaluate, clock=wall)
    return records


def run(name: str, model: torch.nn.Module, budget_s: float, device: torch.device) -> list[str]:
    records = train(model, budget_s, device)
    cells = []
    for goal in MILESTONES:
        hit = next((r for r in records if r.accuracy >= goal), None)
        cells.append(f"{hit.seconds:.0f} s (ep {hit.epoch})" if hit else "—")
    best = max(records, key=lambda r: r.accuracy)
    return [name, *cells, f"{best.accuracy:.1%} (ep {best.epoch}, {best.seconds:.0f} s)",
            f"{records[-1].accuracy:.1%}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=180.0, help="training seconds per model")
    parser.add_argument("--variants", action="store_true", help="also train without BN / dropout")
    args = parser.parse_args()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    device = devices.pick_device("any")
    models = [("SimpleNet (BN + dropout)", lambda: cnn.SimpleNet(15))]
    if args.variants:
        models += [("no batch norm", lambda: cnn.simple_net_variant(15, False, True)),
                   ("no dropout", lambda: cnn.simple_net_variant(15, True, False))]
    print(f"15-scene, 64×64 grayscale, device {device}, {torch.get_num_threads()} CPU threads, "
          f"budget {args.budget:g} s\n")
    header = ["model", *(f"≥ {g:.0%}" for g in MILESTONES), "best", "final"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, build in models:
        torch.manual_seed(0)
        print("| " + " | ".join(run(name, build(), args.budget, device)) + " |", flush=True)


if __name__ == "__main__":
    main()
