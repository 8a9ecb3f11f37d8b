"""Landlock: the worker restricts its own reads to the system, Python and its submission, its
writes to its scratch folders; TCP from ABI 4, signals and abstract sockets from ABI 6.
Applied by ``grader/worker/confine/landlock.py``, which then tries to open every hidden place."""

from __future__ import annotations

from grader.sandbox.layers import LAYERS, Available, Layer, ways

SCOPES = (("filesystem", 1), ("tcp", 4), ("signals", 6))  # what each Landlock ABI adds


def _scopes(layer: Layer, found: Available) -> tuple[str, ...]:
    return (*(f"landlock-{scope}" for scope, abi in SCOPES if found.landlock_abi >= abi),
            "files-verified")  # the probe dropped Landlock if its self-test read a hidden path


def _detail(found: Available) -> str:
    return f"; ABI {found.landlock_abi}: " + ", ".join(
        scope for scope, abi in SCOPES if found.landlock_abi >= abi)


LAYERS.register(Layer(
    name="landlock", order=20, in_worker=True, scopes=_scopes, detail=_detail,
    stops="reads outside the system, Python and the submission; writes outside scratch",
    needs="Linux 5.13+",
    ensures={"files": ways({"landlock-filesystem", "files-verified"}),
             "grader": ways({"landlock-signals"})}))
