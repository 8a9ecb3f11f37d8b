"""Import the student's module as the course notebook did, with the course's helper modules.

F18 submissions start with ``import utils`` (the course's helper module,
which students did not hand in) and often ``from sklearn.preprocessing import
StandardScaler``. When the submission lacks them, stand-ins are registered
first: ``utils`` with the helpers the course gave students, and a minimal
``StandardScaler`` if scikit-learn is not installed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types

import numpy as np


def load(module_name: str) -> types.ModuleType:
    """Import ``module_name`` after registering any missing course helper modules."""
    _install_missing("utils", _course_utils)
    _install_missing("sklearn", _sklearn_stand_in)
    return importlib.import_module(module_name)


def _install_missing(name: str, build) -> None:
    if name in sys.modules:
        return
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        for module_name, module in build().items():
            # a spec without an origin: importlib.util.find_spec works on it (torch probes sklearn)
            module.__spec__ = importlib.machinery.ModuleSpec(module_name, None)
            sys.modules[module_name] = module


def _course_utils() -> dict[str, types.ModuleType]:
    utils = types.ModuleType("utils", "Stand-in for the course's utils.py (provided helpers only).")

    def get_mean_std(data_path, input_size, rgb=False):
        """Per-channel mean and std of the images under ``data_path`` after resize and crop."""
        from torchvision import datasets, transforms

        steps = [transforms.Resize(max(input_size)), transforms.CenterCrop(input_size)]
        steps += [] if rgb else [transforms.Grayscale()]
        folder = datasets.ImageFolder(data_path, transform=transforms.Compose(
            steps + [transforms.ToTensor()]))
        pixels = np.concatenate([img.reshape(img.shape[0], -1).numpy() for img, _ in folder], axis=1)
        return pixels.mean(axis=1).tolist(), pixels.std(axis=1).tolist()

    def print_input_size_hook(_module, inputs, _output):
        print("Input size to classifier is", inputs[0].size())

    utils.get_mean_std = get_mean_std
    utils.print_input_size_hook = print_input_size_hook
    return {"utils": utils}


def _sklearn_stand_in() -> dict[str, types.ModuleType]:
    class StandardScaler:
        """Running mean and standard deviation per feature (``fit``/``partial_fit``/``transform``)."""

        def __init__(self, *args, **kwargs):
            self.n_samples_seen_, self._sum, self._sum_sq = 0, 0.0, 0.0

        def partial_fit(self, X, y=None):
            X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
            self.n_samples_seen_ += len(X)
            self._sum = self._sum + X.sum(axis=0)
            self._sum_sq = self._sum_sq + (X ** 2).sum(axis=0)
            self.mean_ = self._sum / self.n_samples_seen_
            self.var_ = np.maximum(self._sum_sq / self.n_samples_seen_ - self.mean_ ** 2, 0.0)
            self.scale_ = np.where(self.var_ > 0, np.sqrt(self.var_), 1.0)
            return self

        def fit(self, X, y=None):
            self.__init__()
            return self.partial_fit(X)

        def transform(self, X):
            return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

        def fit_transform(self, X, y=None):
            return self.fit(X).transform(X)

    sklearn = types.ModuleType("sklearn", "Stand-in: scikit-learn is not installed here.")
    preprocessing = types.ModuleType("sklearn.preprocessing")
    preprocessing.StandardScaler = StandardScaler
    sklearn.preprocessing = preprocessing
    return {"sklearn": sklearn, "sklearn.preprocessing": preprocessing}
