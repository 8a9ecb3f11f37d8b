"""Call the student's ``create_datasets`` on a small image folder and describe what it returns.

Called by the ``datasets`` check (``grader/checks/datasets.py``)::

    description = describe_datasets("student_code", config_json,
                                    train_images, train_labels, test_images, test_labels)

The images are written as PNG files into ``<tmp>/train/<class>/`` and
``<tmp>/test/<class>/`` (the layout of the course's ``data/`` folder), then
``create_datasets(root, input_size, rgb)`` runs as the notebook ran it. The
description is UTF-8 JSON in a uint8 array: the two datasets' lengths and
classes, the shape of an item, the per-channel mean and standard deviation
of every item (the pipelines as they are, random flips included: a flip does
not change them), the labels, and what repeated reads of a few items show
(a training pipeline that flips at random returns an item and its mirror
image; a test pipeline returns the same tensor every time).
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import torch

from .student import load

READS = 12  # reads of each probed item: a fair coin shows both sides with probability 1 - 2**-11
PROBED = 4  # items probed for random flips


def _folder(label: int) -> str:
    return f"class_{int(label):03d}"


def _write_split(folder: str, images: np.ndarray, labels: np.ndarray, classes: list[int]) -> None:
    from PIL import Image

    for label in classes:
        os.makedirs(os.path.join(folder, _folder(label)), exist_ok=True)
    for index, (image, label) in enumerate(zip(np.asarray(images), np.asarray(labels))):
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(
            os.path.join(folder, _folder(label), f"{index:05d}.png"))


def _describe(dataset) -> dict:
    """Length, classes, item shape, per-channel statistics, labels and repeated reads of ``dataset``."""
    items = [dataset[i] for i in range(len(dataset))]
    tensors = [torch.as_tensor(image, dtype=torch.float32) for image, _ in items]
    stacked = torch.stack(tensors) if tensors else torch.zeros(0, 1, 1, 1)
    channels = stacked.transpose(0, 1).reshape(stacked.shape[1], -1).double()
    return {
        "length": len(dataset),
        "classes": list(getattr(dataset, "classes", [])),
        "shape": list(tensors[0].shape) if tensors else [],
        "mean": channels.mean(dim=1).tolist(),
        "std": channels.std(dim=1, unbiased=False).tolist(),
        "labels": [int(label) for _, label in items],
        "reads": [_reads(dataset, i) for i in range(min(PROBED, len(dataset)))],
    }


def _reads(dataset, index: int) -> dict:
    """How ``READS`` reads of item ``index`` differ: all equal, or an image and its mirror."""
    reads = [torch.as_tensor(dataset[index][0], dtype=torch.float32) for _ in range(READS)]
    first = reads[0]
    mirror = torch.flip(first, dims=[-1])
    same = [bool(torch.equal(r, first)) for r in reads]
    mirrored = [bool(torch.allclose(r, mirror)) for r in reads]
    return {"all_equal": all(same), "mirror_seen": any(mirrored) and not torch.equal(first, mirror),
            "other_seen": not all(s or m for s, m in zip(same, mirrored))}


def describe_datasets(module_name: str, config_json: str, train_images: np.ndarray,
                      train_labels: np.ndarray, test_images: np.ndarray, test_labels: np.ndarray,
                      *, _describe=_describe, _folder=_folder, _write_split=_write_split):
    """Write the folder, call ``create_datasets``, describe both datasets; see the module docstring.

    Parameters
    ----------
    module_name : str
    config_json : str
        JSON with ``input_size`` ([height, width]), ``rgb`` and ``seed``.
    train_images, test_images : (N, H, W) uint8 ndarray
    train_labels, test_labels : (N,) int ndarray
        Class indices; class ``k`` is written to the folder ``class_k`` (zero-padded,
        so the folders sort in class order as ImageFolder sorts them).

    Returns
    -------
    description : (B,) uint8 ndarray
        UTF-8 JSON bytes.

    The helpers are bound when this module is imported, before any student code: rebinding
    ``drivers.cnn_datasets._describe`` from the student's module changes nothing here.
    """
    config = json.loads(config_json)
    torch.manual_seed(int(config.get("seed", 0)))
    torch.set_num_threads(1)
    student = load(module_name)
    root = tempfile.mkdtemp(prefix="datasets-")
    classes = sorted(set(np.asarray(train_labels).tolist()) | set(np.asarray(test_labels).tolist()))
    _write_split(os.path.join(root, "train"), train_images, train_labels, classes)
    _write_split(os.path.join(root, "test"), test_images, test_labels, classes)
    create = getattr(student, "create_datasets", None)
    if not callable(create):
        raise AttributeError(f"{module_name}.py defines no function create_datasets")
    train, test = create(root, tuple(config["input_size"]), bool(config.get("rgb", False)))
    description = {"train": _describe(train), "test": _describe(test),
                   "folders": [_folder(k) for k in classes]}
    return np.frombuffer(json.dumps(description).encode(), dtype=np.uint8).copy()
