"""Project 6: scene recognition with a CNN you design and train (F18 API).

Implement ``create_datasets``, ``SimpleNet`` and, if you want settings other
than the course defaults, ``custom_part1_trainer``. See README.md.
"""

import os.path as osp

import torch
import torch.nn as nn
import torchvision.datasets as datasets
import torchvision.transforms as transforms

import utils


def create_datasets(data_path, input_size, rgb=False):
    """Training and test ``ImageFolder`` datasets of ``data_path/train`` and ``data_path/test``.

    Both pipelines must resize the shorter side to ``max(input_size)``, centre-crop
    ``input_size`` and convert to grayscale unless ``rgb``. Add a random
    left-right flip to the training pipeline before ``ToTensor``, and a
    ``Normalize`` after ``ToTensor`` to both. ``utils.get_mean_std`` computes a
    folder's mean and std: which statistics should normalise the test set?

    Parameters
    ----------
    data_path : str
    input_size : (int, int)
        (height, width) of the network's input in pixels.
    rgb : bool

    Returns
    -------
    train_dataset, test_dataset : torchvision.datasets.ImageFolder
    """
    raise NotImplementedError("create_datasets: implement me")


class SimpleNet(nn.Module):
    """A small CNN for 64 x 64 grayscale scenes.

    ``self.features`` is an ``nn.Sequential`` of convolution -> max-pool -> ReLU
    blocks with a ``BatchNorm2d`` after every convolution, then one ``Dropout(droprate)``
    after the last ReLU; ``self.classifier`` is a ``Conv2d`` producing
    ``num_classes`` channels of size 1 x 1 (no batch norm after it). ``forward``
    returns ``self.classifier(self.features(x)).squeeze()``, shape (N, num_classes).
    Initialise conv/linear weights N(0, 1) x 1e-2 with zero biases, batch norm
    weight 1 and bias 0. If ``verbose``, register ``utils.print_input_size_hook``
    on the classifier.

    Parameters
    ----------
    num_classes : int
    droprate : float
    rgb : bool
        3 input channels if True, else 1.
    verbose : bool
    """

    def __init__(self, num_classes, droprate=0.5, rgb=False, verbose=False):
        super().__init__()
        raise NotImplementedError("SimpleNet.__init__: implement me")

    def forward(self, x):
        """(N, C, 64, 64) images -> (N, num_classes) class scores."""
        raise NotImplementedError("SimpleNet.forward: implement me")


def custom_part1_trainer(model):
    """Your training settings for ``model``, or None for the course defaults.

    Defaults: ``CrossEntropyLoss``; SGD with lr 1e-2, momentum 0.9, weight decay 5e-4;
    ``StepLR(step_size=60, gamma=0.1)`` stepped once per epoch; 100 epochs of
    batches of 50. Training stops early when the grader's time budget is spent.
    A dict may set any of ``loss_function``, ``optimizer``, ``lr_scheduler`` and
    ``params`` = {"n_epochs": ..., "batch_size": ...}.
    """
    return None
