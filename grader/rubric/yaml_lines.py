"""Load YAML and remember the line of every key, so errors can name file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Location = tuple[Any, ...]


def load_with_lines(path: Path) -> tuple[Any, dict[Location, int]]:
    """Parse ``path`` and map each key path (e.g. ``("checks", 2, "points")``) to its 1-based line.

    Raises
    ------
    yaml.YAMLError
        On a syntax error; its ``problem_mark`` carries the line.
    """
    text = path.read_text(encoding="utf-8")
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[Location, int] = {}
    if node is not None:
        _record(node, (), lines)
    return yaml.safe_load(text), lines


def line_of(lines: dict[Location, int], loc: Location) -> int | None:
    """The line of ``loc`` or of its closest recorded ancestor."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _record(node: yaml.Node, loc: Location, lines: dict[Location, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = loc + (key_node.value,)
            lines[child] = key_node.start_mark.line + 1
            _record(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record(item, loc + (index,), lines)
