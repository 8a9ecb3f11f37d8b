"""Prepared checks as data files: ``kit.json`` plus ``arrays.npz``, byte-for-byte deterministic.

This is how expected outputs leave the instructor's machine: the inputs and
the reference's outputs of each *visible* check, as plain arrays and JSON —
never code, never pickle. The ``.npz`` is written member by member with fixed
timestamps so that exporting an unchanged assignment gives identical bytes.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from grader.prepare.array_refs import ArrayRefs, decode
from grader.prepare.prepared import PreparedCase, PreparedCheck
from grader.rubric.load import Rubric

ARRAYS = "arrays.npz"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def encode_checks(prepared: list[PreparedCheck], arrays: ArrayRefs) -> dict[str, Any]:
    """``check id -> {unavailable, cases}`` with every array replaced by a reference into ``arrays``."""
    return {item.check.id: {
        "unavailable": item.unavailable,
        "cases": [{
            "id": case.id, "description": case.description, "arg_names": case.arg_names,
            "args": [arrays.encode(v) for v in case.args],
            "expected": [arrays.encode(v) for v in case.expected],
            "diagnoses": [[message, [arrays.encode(v) for v in values]]
                          for message, values in case.diagnoses],
        } for case in item.cases],
    } for item in prepared}


def save(folder: Path, manifest: dict[str, Any], prepared: list[PreparedCheck]) -> None:
    """Write ``manifest`` (plus the encoded checks) as ``kit.json`` and the arrays as ``arrays.npz``."""
    arrays = ArrayRefs()
    manifest = {**manifest, "checks": encode_checks(prepared, arrays)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kit.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                     encoding="utf-8")
    with zipfile.ZipFile(folder / ARRAYS, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, array in arrays.named.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, buffer.getvalue())


def load(folder: Path) -> tuple[dict[str, Any], Rubric, list[PreparedCheck]]:
    """Read a kit's manifest, its (visible-only) rubric and its prepared checks."""
    manifest = json.loads((folder / "kit.json").read_text(encoding="utf-8"))
    rubric = Rubric.model_validate(manifest["rubric"])
    with np.load(folder / ARRAYS, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}

    prepared = []
    for check in rubric.checks:
        data = manifest["checks"][check.id]
        cases = [PreparedCase(
            id=c["id"], description=c["description"], arg_names=c["arg_names"],
            args=[decode(v, arrays) for v in c["args"]],
            expected=[decode(v, arrays) for v in c["expected"]],
            diagnoses=[(m, [decode(v, arrays) for v in values]) for m, values in c["diagnoses"]],
        ) for c in data["cases"]]
        prepared.append(PreparedCheck(check, cases, unavailable=data["unavailable"]))
    return manifest, rubric, prepared
