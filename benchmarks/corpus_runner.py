"""Call a student's functions directly, in the interpreter the benchmark names (numpy only).

Started by ``benchmarks/real_code.py`` as ``PYTHON corpus_runner.py REQUEST.json``, so that
code written for numpy 1.x can be replayed under a numpy 1.26 virtual environment: this file
imports nothing but numpy and the standard library, and never the harness. It is *not* a
sandbox — the corpus is public code chosen by whoever runs the benchmark.

``REQUEST.json``::

    {"folder": ".../student", "arrays": "in.npz", "results": "out.npz", "numpy_aliases": true,
     "calls": [{"function": "layers:affine_forward",
                "args": [{"array": "a0"}, {"json": {...}}, {"ref": [0, 1]}],
                "backward": "layers:affine_backward", "dout": "d0", "perturb": [0, 1, 2],
                "h": 1e-5}]}

An argument ``{"ref": [i, j]}`` is output ``j`` of call ``i`` (a pipeline: interest points,
then features, then matches). For call ``i`` the results file holds ``i.out.J`` (the value;
for a forward with a backward, its first output only), ``i.grad.J`` (the backward's gradients, or a loss function's own) and
``i.num.J`` (central differences of the student's own forward times ``dout``, for each
argument in ``perturb``). The runner prints one JSON line: per call, ``error`` (the import or
the forward raised), ``backward_error`` and ``seconds`` (forward plus backward, perturbations
excluded); the student's own printing is swallowed. ``numpy_aliases`` (a rubric's
``compat``) defines the numpy names old code uses that the interpreter's numpy removed.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
import time
import traceback

import numpy as np


# numpy names removed in 1.24 / 2.0 that 2016-2019 student code still uses, with their old
# meanings; only names that are missing are defined (np.bool exists again in numpy 2)
OLD_NUMPY = {"int": int, "float": float, "complex": complex, "object": object, "str": str,
             "unicode": str, "asscalar": lambda a: a.item(), "alltrue": np.all,
             "sometrue": np.any, "product": np.prod, "cumproduct": np.cumprod,
             "float_": np.float64, "complex_": np.complex128, "NaN": np.nan, "Inf": np.inf,
             "PINF": np.inf, "NINF": -np.inf, "infty": np.inf, "round_": np.round,
             "bool8": np.bool_, "int0": np.intp, "string_": np.bytes_, "unicode_": np.str_}


def add_numpy_aliases() -> None:
    """Define the removed numpy names the student's code may use (the rubric's compat)."""
    for name, value in OLD_NUMPY.items():
        if name not in np.__dict__:
            setattr(np, name, value)


def _argument(spec: dict, arrays, values: list) -> object:
    """An argument: an array of the request, a JSON value, or an output of an earlier call."""
    if "ref" in spec:
        call, index = spec["ref"]
        return values[call][index]
    return np.array(arrays[spec["array"]]) if "array" in spec else spec["json"]


def _fresh(args: list) -> list:
    """Copies, so that a student who writes into an input does not change the next call."""
    return [a.copy() if isinstance(a, np.ndarray) else json.loads(json.dumps(a)) for a in args]


def _as_list(value: object) -> list:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _forward_value(function, args: list, with_backward: bool) -> tuple:
    """``(value, cache or gradients)`` of one forward call."""
    result = function(*_fresh(args))
    if with_backward:
        value, cache = result
        return value, cache
    value, *gradients = _as_list(result)
    return value, gradients


def _numerical(function, args: list, position: int, dout, h: float, with_backward: bool):
    """Central differences of the student's own forward with respect to ``args[position]``."""
    base = np.asarray(args[position], dtype=np.float64)
    gradient = np.zeros(base.shape)
    for index in np.ndindex(base.shape):
        values = []
        for step in (h, -h):
            moved = list(args)
            shifted = base.copy()
            shifted[index] += step
            moved[position] = shifted
            values.append(np.asarray(_forward_value(function, moved, with_backward)[0],
                                     dtype=np.float64))
        gradient[index] = np.sum((values[0] - values[1]) * dout) / (2 * h)
    return gradient


def _store(results: dict, key: str, value: object) -> None:
    """Keep ``value`` if it is a numeric array (or converts to one); drop it otherwise."""
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - e.g. a ragged list: not an array, judged as missing
        return
    if array.dtype.kind in "biuf":
        results[key] = array


class Modules:
    """The student's modules, imported on first use; an import error is remembered."""

    def __init__(self) -> None:
        self.loaded: dict = {}

    def function(self, target: str):
        """``module:function`` -> the function (raises ImportError naming the module)."""
        name, function = target.split(":")
        if name not in self.loaded:
            try:
                self.loaded[name] = importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - the submission's finding, not ours
                self.loaded[name] = ImportError(f"import {name} failed: "
                                                f"{type(exc).__name__}: {exc}")
        module = self.loaded[name]
        if isinstance(module, ImportError):
            raise module
        return getattr(module, function)


def run_call(modules: Modules, call: dict, arrays, values: list, results: dict,
             key: str) -> dict:
    """Run one call; append its outputs to ``values`` and put them in ``results`` under
    ``key``; return its report."""
    values.append([])
    args = [_argument(spec, arrays, values) for spec in call["args"]]
    backward = call.get("backward")
    report = {"error": None, "backward_error": None, "seconds": 0.0}
    started = time.perf_counter()
    try:
        function = modules.function(call["function"])
        value, rest = _forward_value(function, args, backward is not None)
    except Exception as exc:  # noqa: BLE001 - the student's exception is the finding
        report["error"] = f"{type(exc).__name__}: {exc}"
        return report
    gradients = rest
    if backward:
        dout = np.array(arrays[call["dout"]])
        try:
            gradients = _as_list(modules.function(backward)(dout.copy(), rest))
        except Exception as exc:  # noqa: BLE001
            report["backward_error"] = f"{type(exc).__name__}: {exc}"
            gradients = []
    report["seconds"] = time.perf_counter() - started
    values[-1] = [value] + list(rest) if not backward else [value]
    for j, output in enumerate(values[-1]):
        _store(results, f"{key}.out.{j}", output)
    for j, gradient in enumerate(gradients):
        _store(results, f"{key}.grad.{j}", gradient)
    dout = np.array(arrays[call["dout"]]) if call.get("dout") else 1.0
    for j, position in enumerate(call.get("perturb", [])):
        try:
            results[f"{key}.num.{j}"] = _numerical(function, args, position, dout, call["h"],
                                                   backward is not None)
        except Exception:  # noqa: BLE001 - a forward that fails off the case: no numerical gradient
            pass
    return report


def main(request_path: str) -> int:
    with open(request_path) as handle:
        request = json.load(handle)
    sys.path.insert(0, request["folder"])
    if request.get("numpy_aliases"):
        add_numpy_aliases()
    reports, results, values = [], {}, []
    printed = io.StringIO()
    modules = Modules()
    with contextlib.redirect_stdout(printed):
        with np.load(request["arrays"], allow_pickle=False) as arrays:
            for i, call in enumerate(request["calls"]):
                try:
                    reports.append(run_call(modules, call, arrays, values, results, str(i)))
                except Exception:  # noqa: BLE001
                    reports.append({"error": traceback.format_exc(limit=1).strip().splitlines()[-1],
                                    "backward_error": None, "seconds": 0.0})
    np.savez(request["results"], **results)
    print(json.dumps({"calls": reports, "numpy": np.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
