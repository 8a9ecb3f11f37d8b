"""Dave added a conv block but kept the starter's classifier kernel: the shapes no longer fit."""
import torch.nn as nn


class SimpleNet(nn.Module):
  def __init__(self, num_classes, droprate=0.5, rgb=False, verbose=False):
    super(SimpleNet, self).__init__()
    self.features = nn.Sequential(
      nn.Conv2d(1, 10, kernel_size=9), nn.BatchNorm2d(10), nn.MaxPool2d(7, 7), nn.ReLU(),
      nn.Conv2d(10, 20, kernel_size=3), nn.BatchNorm2d(20), nn.MaxPool2d(2, 2), nn.ReLU(),
      nn.Dropout(droprate),
    )
    self.classifier = nn.Conv2d(20, num_classes, kernel_size=8)

  def forward(self, x):
    return self.classifier(self.features(x)).squeeze()


def custom_part1_trainer(model):
  return None
