"""Hostile (escape): imports the answer key (or the harness, to find it) and returns its
output, which would earn every point. Under bubblewrap neither package is visible."""

import importlib
import os


def _reference():
    try:
        return importlib.import_module("reference.filtering")
    except ImportError:
        pass
    grader = importlib.import_module("grader")  # ImportError when hidden, as it should be
    root = os.path.dirname(os.path.dirname(grader.__file__))
    spec = importlib.util.spec_from_file_location(
        "stolen", os.path.join(root, "reference", "filtering.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def my_imfilter(image, filter):
    return _reference().my_imfilter(image, filter)


def create_hybrid_image(image1, image2, filter):
    return _reference().create_hybrid_image(image1, image2, filter)
