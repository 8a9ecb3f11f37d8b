"""Time to accuracy of the reference SimpleNet on 15-scene (64 × 64 grayscale), as a Markdown table.

    python benchmarks/cnn.py [--budget 180] [--variants]

Trains with the reference's settings (``reference.cnn.custom_part1_trainer``),
evaluating on the test split after every epoch, on ``cuda`` when available
(else the CPU, with all its cores). ``--variants`` also trains SimpleNet
without batch norm and/or dropout. Needs the course data (``GRADER_DATA``).
"""

from __future__ import annotations

import argparse
import os

import torch

from grader.datasets.scenes import load_scenes
from reference import cnn, training

MILESTONES = (0.40, 0.50, 0.55, 0.60, 0.65, 0.70)


def run(name: str, model: torch.nn.Module, budget_s: float) -> list[str]:
    train, test = load_scenes("train"), load_scenes("test")
    records = training.train(model, cnn.custom_part1_trainer(model), train.images, train.labels,
                             test.images, test.labels, seed=0, budget_s=budget_s)
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
    device = training.pick_device()
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
        print("| " + " | ".join(run(name, build(), args.budget)) + " |", flush=True)


if __name__ == "__main__":
    main()
