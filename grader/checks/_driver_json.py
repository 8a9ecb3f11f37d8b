"""Read the JSON description a sandbox driver returns as UTF-8 bytes in a uint8 array.

Drivers return their descriptions that way because it can exceed the
worker's limit on returned text. Anything else (a wrong dtype, an oversized
or undecodable payload) is one sentence in a :class:`ValueError`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

MAX_DESCRIPTION_BYTES = 1 << 20


def description(raw: Any, what: str) -> dict[str, Any]:
    """The decoded JSON object in ``raw`` (``what`` names it in errors)."""
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8 or raw.size > MAX_DESCRIPTION_BYTES:
        raise ValueError(f"the {what} could not be read")
    try:
        decoded = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"the {what} could not be read") from None
    if not isinstance(decoded, dict):
        raise ValueError(f"the {what} could not be read")
    return decoded
