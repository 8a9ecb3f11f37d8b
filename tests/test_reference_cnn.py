"""The reference SimpleNet and its transforms (reference/cnn.py), trained by the grader's one
training loop (grader/worker/drivers/cnn_training.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from grader.datasets.glyphs import make_glyphs
from grader.worker.drivers import cnn_training as loop
from grader.worker.drivers import device as devices
from reference import cnn

REPO = Path(__file__).resolve().parents[1]


def _types(model: nn.Module) -> list[str]:
    return [type(m).__name__ for m in model.modules() if not list(m.children())]


def test_simplenet_scores_a_batch_and_follows_the_course_recipe():
    torch.manual_seed(0)
    model = cnn.SimpleNet(15).eval()
    assert model(torch.zeros(3, 1, 64, 64)).shape == (3, 15)
    types = _types(model)
    assert types.count("Conv2d") == 5 and types.count("BatchNorm2d") == 4  # none after the classifier
    assert types[-2:] == ["Dropout", "Conv2d"]
    assert 50_000 < sum(p.numel() for p in model.parameters()) < 500_000
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in norms)


@pytest.mark.parametrize("kernel, padding, side", [(3, 1, 4), (2, 1, 4), (4, 1, 3), (3, 0, 2), (5, 2, 4)])
def test_the_classifier_covers_the_map_whatever_the_kernel_and_padding(monkeypatch, kernel, padding, side):
    monkeypatch.setattr(cnn, "KERNEL", kernel)
    monkeypatch.setattr(cnn, "PADDING", padding)
    model = cnn.SimpleNet(15).eval()
    assert model.classifier.kernel_size == (side, side)
    assert model(torch.zeros(2, 1, 64, 64)).shape == (2, 15)


def test_weights_start_as_the_course_draws_them():
    torch.manual_seed(0)
    weighted = [m for m in cnn.SimpleNet(15).modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    weights = torch.cat([m.weight.flatten() for m in weighted])
    assert abs(weights.std().item() - 0.01) < 2e-4 and abs(weights.mean().item()) < 1e-4
    assert all(torch.all(m.bias == 0) for m in weighted)


def test_eval_turns_dropout_off():
    torch.manual_seed(0)
    model, x = cnn.SimpleNet(15), torch.randn(4, 1, 64, 64)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_variants_without_batch_norm_or_dropout():
    assert "BatchNorm2d" not in _types(cnn.simple_net_variant(15, batch_norm=False, dropout=True))
    assert "Dropout" not in _types(cnn.simple_net_variant(15, batch_norm=True, dropout=False))


def test_create_datasets_normalises_both_splits_with_training_statistics(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, level in (("train", 60), ("test", 180)):  # very different brightness
        for name in ("a", "b"):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(2):
                pixels = rng.integers(level - 40, level + 40, size=(40, 50)).astype(np.uint8)
                Image.fromarray(pixels).save(tmp_path / split / name / f"{i}.png")
    train, test = cnn.create_datasets(str(tmp_path), (32, 32))
    assert train.classes == test.classes == ["a", "b"]
    train_image, _ = train[0]
    test_image, _ = test[0]
    assert train_image.shape == test_image.shape == (1, 32, 32)
    assert abs(float(torch.stack([train[i][0] for i in range(len(train))]).mean())) < 0.05
    assert float(test_image.mean()) > 2  # brighter test images stay brighter: train stats used
    flips = {str(type(t).__name__) for t in train.transform.transforms}
    assert "RandomHorizontalFlip" in flips
    assert "RandomHorizontalFlip" not in {type(t).__name__ for t in test.transform.transforms}


def _small_run(seed: int) -> tuple[list[float], np.ndarray]:
    """Two epochs of the reference SimpleNet on glyphs through the grader's training loop."""
    x, y = make_glyphs(60, 5, 64)
    xt, _ = make_glyphs(20, 6, 64)
    generator = devices.seed_everything(seed)
    model = cnn.SimpleNet(10)
    custom = cnn.custom_part1_trainer(model)
    settings = loop.course_settings(model, {**custom, "params": {"n_epochs": 2, "batch_size": 20}})
    x_train, x_test, _, _ = loop.normalise(x, xt)
    cpu = torch.device("cpu")
    log = loop.fit(model, settings, x_train, torch.as_tensor(y).long(), cpu, generator,
                   budget_s=1e9, flip=True)
    assert log.stopped_by == "epochs" and log.epochs == 2 and log.seconds > 0
    return log.losses, loop.predict(model, x_test, cpu)


def test_reference_training_is_reproducible_on_cpu():
    (losses, predicted), (again, predicted_again) = _small_run(0), _small_run(0)
    assert losses == again and np.array_equal(predicted, predicted_again)


def test_an_epoch_callback_sees_every_epoch_and_its_time_is_not_counted():
    x, y = make_glyphs(60, 5, 32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 10))
    settings = loop.course_settings(model, {"params": {"n_epochs": 3, "batch_size": 20}})
    ticks = iter(range(0, 10_000, 1))
    seen = []
    log = loop.fit(model, settings, loop.normalise(x, x)[0], torch.as_tensor(y).long(),
                   torch.device("cpu"), devices.seed_everything(0), budget_s=1e9, flip=False,
                   after_epoch=lambda epoch, seconds, loss: (seen.append((epoch, seconds)),
                                                             [next(ticks) for _ in range(100)]),
                   clock=lambda: float(next(ticks)))
    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    assert log.seconds < 100  # the callbacks' 3 × 100 ticks are not counted


def test_course_defaults():
    settings = loop.course_settings(nn.Linear(2, 2), None)
    group = settings.optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (1e-2, 0.9, 5e-4)
    assert (settings.n_epochs, settings.batch_size, settings.custom) == (100, 50, False)


@pytest.mark.slow
def test_reference_clears_the_course_bar_on_15scene_through_the_harness(course_data, tmp_path):
    """The answer key, graded as a submission: well above the F18 notebook's 50 % (67 % measured) in its 15 epochs."""
    from grader import grading
    from grader.intake import submission
    from grader.prepare.expected import prepare
    from grader.rubric.load import load_rubric

    if not (course_data / "proj6" / "15scene").is_dir():
        pytest.skip("15-scene not in the course data")
    shutil.copyfile(REPO / "reference" / "cnn.py", tmp_path / "student_code.py")
    rubric, rubric_hash = load_rubric(REPO / "assignments" / "proj4_cnn" / "rubric.yaml")
    prepared = [p for p in prepare(rubric, rubric_hash)
                if p.check.id in ("simplenet_output", "train_15scene")]
    with submission.load(tmp_path, rubric.modules) as loaded:
        checks = {c.id: c for c in grading.grade(loaded, rubric, rubric_hash, prepared).checks}
    scenes = checks["train_15scene"]
    (run,) = scenes.details["per_case"]
    assert run["accuracy"] >= 0.62, scenes.message
    assert scenes.score == scenes.max_score
    assert run["stopped_by"] == "epochs"  # its 15 epochs fit the budget (speed: benchmarks/cnn.py)
