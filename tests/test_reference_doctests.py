"""Every module of the answer key teaches by example: its docstring examples run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["cnn", "conv_arithmetic", "filtering", "gradcheck", "harris", "layers", "matching",
           "sift"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"reference.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} of {result.attempted} failed"


def test_every_reference_module_is_listed():
    from pathlib import Path

    folder = Path(importlib.import_module("reference").__file__).parent
    found = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    assert found == set(MODULES)
