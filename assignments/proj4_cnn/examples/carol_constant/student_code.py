"""Carol's network ignores its input: every image gets the same scores (a constant predictor)."""
import torch
import torch.nn as nn


class SimpleNet(nn.Module):
  def __init__(self, num_classes, droprate=0.5, rgb=False, verbose=False):
    super(SimpleNet, self).__init__()
    self.features = nn.Sequential(nn.Conv2d(1, 4, kernel_size=3), nn.BatchNorm2d(4),
                                  nn.MaxPool2d(2), nn.ReLU(), nn.Dropout(droprate))
    self.classifier = nn.Linear(1, num_classes)

  def forward(self, x):
    features = self.features(x)
    return self.classifier(torch.ones(len(x), 1)) + 0 * features.sum()


def custom_part1_trainer(model):
  optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
  return {'optimizer': optimizer, 'params': {'n_epochs': 10, 'batch_size': 50}}
