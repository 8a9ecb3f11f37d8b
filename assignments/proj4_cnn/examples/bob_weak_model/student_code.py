"""Bob shrank the image to 16 x 16 pixels and used one small conv layer: a deliberately weak model."""
import torch
import torch.nn as nn
import torchvision.datasets as datasets
import torchvision.transforms as transforms
from sklearn.preprocessing import StandardScaler
import os.path as osp
import utils


def create_datasets(data_path, input_size, rgb=False):
  train_mean, train_std = utils.get_mean_std(osp.join(data_path, 'train'), input_size, rgb)
  train_tforms = [transforms.Resize(size=max(input_size)), transforms.CenterCrop(size=input_size)]
  if not rgb:
    train_tforms.append(transforms.Grayscale())
  test_tforms = list(train_tforms)
  train_tforms.append(transforms.RandomHorizontalFlip())
  for tforms in (train_tforms, test_tforms):
    tforms.append(transforms.ToTensor())
    tforms.append(transforms.Normalize(train_mean, train_std))
  train_dset = datasets.ImageFolder(root=osp.join(data_path, 'train'),
                                    transform=transforms.Compose(train_tforms))
  test_dset = datasets.ImageFolder(root=osp.join(data_path, 'test'),
                                   transform=transforms.Compose(test_tforms))
  return train_dset, test_dset


class SimpleNet(nn.Module):
  def __init__(self, num_classes, droprate=0.5, rgb=False, verbose=False):
    super(SimpleNet, self).__init__()
    in_channels = 3 if rgb else 1
    self.features = nn.Sequential(
      nn.AvgPool2d(kernel_size=4, stride=4),
      nn.Conv2d(in_channels=in_channels, out_channels=16, kernel_size=3, padding=1),
      nn.ReLU(),
      nn.Dropout(p=droprate),
    )
    self.classifier = nn.Conv2d(in_channels=16, out_channels=num_classes,
      kernel_size=16, stride=1, padding=0)
    for name, m in self.named_modules():
      if isinstance(m, nn.Conv2d) or isinstance(m, nn.Linear):
        m.weight.data.normal_(0, 1)
        m.weight.data.mul_(1e-2)
        if m.bias is not None:
          nn.init.constant_(m.bias.data, 0)
    if verbose:
      self.classifier.register_forward_hook(utils.print_input_size_hook)

  def forward(self, x):
    x = self.features(x)
    x = self.classifier(x)
    return x.squeeze()


def custom_part1_trainer(model):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return {'optimizer': optimizer, 'params': {'n_epochs': 20, 'batch_size': 50}}
