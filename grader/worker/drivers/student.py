"""Import the student's module as the course notebook did, with the course's helper modules.

F18 submissions start with ``import utils`` (the course's helper module: the rubric's
``provided`` files put the kit's copy beside the student's code) and often ``from
sklearn.preprocessing import StandardScaler``: without scikit-learn, a minimal stand-in
``StandardScaler`` is registered first.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types

import numpy as np


class StudentImportError(Exception):
    """The student's module failed to import inside a driver: reported as an import failure
    ("importing your module failed: …"), not as an exception of the function called."""

    student_import = True


def load(module_name: str) -> types.ModuleType:
    """Import ``module_name`` after registering the scikit-learn stand-in where it is missing."""
    _install_missing("sklearn", _sklearn_stand_in)
    try:
        return importlib.import_module(module_name)
    except BaseException as exc:  # SystemExit at import time counts too
        raise StudentImportError(f"{type(exc).__name__}: {exc}") from exc


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
            StandardScaler.__init__(self)
            return self.partial_fit(X)

        def transform(self, X):
            return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

        def fit_transform(self, X, y=None):
            return self.fit(X).transform(X)

    sklearn = types.ModuleType("sklearn", "Stand-in: scikit-learn is not installed here.")
    preprocessing = types.ModuleType("sklearn.preprocessing")
    vars(preprocessing)["StandardScaler"] = StandardScaler
    vars(sklearn)["preprocessing"] = preprocessing
    return {"sklearn": sklearn, "sklearn.preprocessing": preprocessing}
