"""Alice: four conv/BN/pool/ReLU blocks, dropout, a conv classifier; course-style settings."""
import torch
import torch.nn as nn
import torchvision.datasets as datasets
import torchvision.transforms as transforms
from sklearn.preprocessing import StandardScaler
import os.path as osp
import utils


def create_datasets(data_path, input_size, rgb=False):
  train_mean, train_std = utils.get_mean_std(osp.join(data_path, 'train'), input_size, rgb)
  common = [transforms.Resize(size=max(input_size)), transforms.CenterCrop(size=input_size)]
  if not rgb:
    common.append(transforms.Grayscale())
  finish = [transforms.ToTensor(), transforms.Normalize(mean=train_mean, std=train_std)]
  train_tforms = transforms.Compose(common + [transforms.RandomHorizontalFlip(p=0.5)] + finish)
  test_tforms = transforms.Compose(common + finish)
  return (datasets.ImageFolder(root=osp.join(data_path, 'train'), transform=train_tforms),
          datasets.ImageFolder(root=osp.join(data_path, 'test'), transform=test_tforms))


class SimpleNet(nn.Module):
  def __init__(self, num_classes, droprate=0.5, rgb=False, verbose=False):
    super(SimpleNet, self).__init__()
    in_channels = 3 if rgb else 1
    layers = []
    for width in [16, 32, 64, 128]:
      layers += [nn.Conv2d(in_channels, width, kernel_size=3, padding=1),
                 nn.BatchNorm2d(width),
                 nn.MaxPool2d(kernel_size=2, stride=2),
                 nn.ReLU()]
      in_channels = width
    layers.append(nn.Dropout(p=droprate))
    self.features = nn.Sequential(*layers)
    self.classifier = nn.Conv2d(in_channels=128, out_channels=num_classes, kernel_size=4)
    for name, m in self.named_modules():
      if isinstance(m, nn.Conv2d) or isinstance(m, nn.Linear):
        m.weight.data.normal_(0, 1)
        m.weight.data.mul_(1e-2)
        if m.bias is not None:
          nn.init.constant_(m.bias.data, 0)
      elif isinstance(m, nn.BatchNorm2d):
        nn.init.constant_(m.weight.data, 1)
        nn.init.constant_(m.bias.data, 0)
    if verbose:
      self.classifier.register_forward_hook(utils.print_input_size_hook)

  def forward(self, x):
    x = self.features(x)
    x = self.classifier(x)
    return x.squeeze()


def custom_part1_trainer(model):
  optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, weight_decay=5e-4)
  return {'optimizer': optimizer,
          'lr_scheduler': torch.optim.lr_scheduler.StepLR(optimizer, step_size=20, gamma=0.1),
          'params': {'n_epochs': 30, 'batch_size': 50, 'experiment': 'alice'}}
