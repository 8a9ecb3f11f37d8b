"""Helpers the course provides for Project 6 (F18 ``utils.py``, the parts ``student_code`` uses)."""

import numpy as np


def get_mean_std(data_path, input_size, rgb=False):
    """Per-channel mean and standard deviation (in [0, 1]) of the images under ``data_path``.

    Each image is resized and centre-cropped to ``input_size`` (and made
    grayscale unless ``rgb``) before its pixels are pooled. Returns two lists
    with one value per channel.
    """
    from torchvision import datasets, transforms  # here: importing utils needs no torchvision

    steps = [transforms.Resize(max(input_size)), transforms.CenterCrop(input_size)]
    steps += [] if rgb else [transforms.Grayscale()]
    folder = datasets.ImageFolder(data_path, transform=transforms.Compose(steps + [transforms.ToTensor()]))
    pixels = np.concatenate([image.reshape(image.shape[0], -1).numpy() for image, _ in folder], axis=1)
    return pixels.mean(axis=1).tolist(), pixels.std(axis=1).tolist()


def print_input_size_hook(module, inputs, output):
    """A forward hook that prints the size of the classifier's input."""
    print("Input size to classifier is", inputs[0].size())
