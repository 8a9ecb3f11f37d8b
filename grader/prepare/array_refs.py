"""Values as JSON plus named arrays: how prepared data is stored without pickle.

A value becomes ``{"array": "a3"}`` (the array kept aside under that name, for
an ``.npz``) or ``{"value": v}`` (a JSON scalar, string or ``None``). Used by the
expected-output cache and by student kits.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ArrayRefs:
    """Collects arrays under short names while values are encoded."""

    def __init__(self) -> None:
        self.named: dict[str, np.ndarray] = {}

    def encode(self, value: Any) -> dict[str, Any]:
        if isinstance(value, np.ndarray):
            name = f"a{len(self.named)}"
            self.named[name] = value
            return {"array": name}
        return {"value": value.item() if isinstance(value, np.generic) else value}


def decode(item: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """The value ``item`` stands for, given the named ``arrays``."""
    return arrays[item["array"]] if "array" in item else item["value"]
