"""A correct variant written differently from the reference (for `grader audit proj4_cnn`).

Three blocks of 5 x 5 convolutions (padding 2) written out layer by layer, the
classifier's kernel found by a dry run, initialisation through ``self.apply``,
scores flattened with ``view`` instead of ``squeeze``, normalisation statistics
computed here with torch instead of ``utils.get_mean_std``, and Adam without a
schedule for ten epochs of batches of 32.
"""

import os.path as osp

import torch
import torch.nn as nn
import torchvision.datasets as datasets
import torchvision.transforms as transforms


def _statistics(folder, shape_steps):
    """Pooled per-channel mean and std of every image of an ImageFolder, after ``shape_steps``."""
    images = datasets.ImageFolder(folder, transform=transforms.Compose(shape_steps + [transforms.ToTensor()]))
    stacked = torch.stack([image for image, _ in images])  # (N, C, H, W)
    per_channel = stacked.transpose(0, 1).reshape(stacked.shape[1], -1)
    return per_channel.mean(dim=1).tolist(), per_channel.std(dim=1, unbiased=False).tolist()


def create_datasets(data_path, input_size, rgb=False):
    shape_steps = [transforms.Resize(max(input_size)), transforms.CenterCrop(input_size)]
    if not rgb:
        shape_steps.append(transforms.Grayscale(num_output_channels=1))
    mean, std = _statistics(osp.join(data_path, "train"), shape_steps)
    normalise = transforms.Normalize(mean, std)
    train = transforms.Compose(shape_steps + [transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                                              normalise])
    test = transforms.Compose(shape_steps + [transforms.ToTensor(), normalise])
    return (datasets.ImageFolder(osp.join(data_path, "train"), transform=train),
            datasets.ImageFolder(osp.join(data_path, "test"), transform=test))


def _initialise(module):
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.normal_(module.weight, mean=0.0, std=0.01)
        nn.init.constant_(module.bias, 0.0)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.constant_(module.weight, 1.0)
        nn.init.constant_(module.bias, 0.0)


class SimpleNet(nn.Module):
    def __init__(self, num_classes, droprate=0.5, rgb=False, verbose=False):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3 if rgb else 1, 16, 5, padding=2), nn.BatchNorm2d(16), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(16, 32, 5, padding=2), nn.BatchNorm2d(32), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(32, 64, 5, padding=2), nn.BatchNorm2d(64), nn.MaxPool2d(2), nn.ReLU(),
            nn.Dropout(droprate),
        )
        with torch.no_grad():
            side = self.features.eval()(torch.zeros(1, 3 if rgb else 1, 64, 64)).shape[-1]
        self.features.train()
        self.classifier = nn.Conv2d(64, num_classes, kernel_size=side)
        self.apply(_initialise)
        if verbose:
            self.classifier.register_forward_hook(lambda _m, inputs, _o: print(inputs[0].size()))

    def forward(self, x):
        scores = self.classifier(self.features(x))
        return scores.view(scores.shape[0], -1)


def custom_part1_trainer(model):
    return {"loss_function": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4),
            "params": {"n_epochs": 10, "batch_size": 32}}
