"""The worker's request loop: import student modules and call their functions on request.

Imported by :mod:`main` in the worker process once it has confined itself. Requests and
replies travel on two dedicated file descriptors (:mod:`protocol`); the first message is
``ready``, with the isolation layers the worker enforced, sent before any student module
is imported. The worker only *reports* what the student's code returned or raised; the
parent decides every score.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import sysconfig
import time
import traceback

import numpy as np

import compat
import drivers  # noqa: F401 - bound before the submission folder joins sys.path, so a
import protocol  # student folder named "drivers" cannot replace them

MAX_TEXT = 2000


def serve(spec: dict, layers: list[str], problems: list[str]) -> int:
    """Say which layers hold, then answer requests until the parent closes the pipe."""
    request_fd, reply_fd = spec["fds"]["request"], spec["fds"]["reply"]
    notes = compat.restore_numpy_aliases() if spec.get("numpy_aliases") else []
    home = os.environ.get("HOME", "/")  # the writable scratch folder
    unreachable = [path for path, mode in ((spec["module_dir"], os.R_OK | os.X_OK),
                                           (home, os.W_OK | os.X_OK)) if not os.access(path, mode)]
    protocol.write_all(reply_fd, protocol.frames(
        {"ok": True, "ready": True, "layers": layers, "problems": problems,
         "unreachable": unreachable}))
    if unreachable:
        return 1
    _PATHS[:] = _machine_paths(spec["module_dir"], home)
    sys.path.insert(0, spec["module_dir"])
    os.chdir(home)
    modules: dict[str, object] = {}
    while True:
        try:
            header, arrays = _read(request_fd)
        except EOFError:
            return 0
        reply, out_arrays = _handle(header, arrays, modules, notes)
        sys.stdout.flush()
        sys.stderr.flush()
        reply = {**reply, "id": header.get("id")}  # the parent accepts only the answer to its request
        protocol.write_all(reply_fd, _encode(reply, out_arrays, header.get("max_bytes")))


def _encode(reply: dict, arrays: list, max_bytes: int | None) -> list:
    """The reply's frames; a result too large to send, or to encode, becomes a failure reply."""
    size = sum(np.asarray(a).nbytes for a in arrays)
    if max_bytes and size > max_bytes:
        return protocol.frames({"ok": False, "category": "exception", "id": reply["id"],
                                "error": f"returned {size / 2**20:.0f} MiB of arrays, more than "
                                         f"the {max_bytes / 2**20:.0f} MiB allowed"})
    try:
        return protocol.frames(reply, arrays)
    except MemoryError:
        return protocol.frames({"ok": False, "category": "memory", "id": reply["id"],
                                "error": "out of memory while sending the result back"})


def _read(fd: int) -> tuple[dict, list[np.ndarray]]:
    prefix = bytes(protocol.read_exact(fd, protocol.PREFIX_BYTES))
    head_len, payload_len = protocol.split_prefix(prefix, 1 << 40)
    return protocol.decode(bytes(protocol.read_exact(fd, head_len)), protocol.read_exact(fd, payload_len))


def _handle(header: dict, arrays: list, modules: dict, notes: list[str]) -> tuple[dict, list]:
    op = header.get("op")
    if op == "import":
        return _import(header["module"], modules, notes), []
    if op == "run":
        return _run(header, arrays, modules)
    return {"ok": False, "category": "protocol", "error": f"unknown op {op!r}"}, []


def _import(name: str, modules: dict, notes: list[str]) -> dict:
    started = time.perf_counter()
    try:
        modules[name] = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        category = "missing_module" if exc.name == name else "exception"
        return _failure(category, exc, started)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt at import count too
        return _failure("import", exc, started)
    return {"ok": True, "seconds": time.perf_counter() - started, "compat": notes}


def _did_you_mean(module, wanted: str) -> str:
    """`` (did you mean 'x'?)`` for the module's function whose name is closest to ``wanted``
    (a notebook's ``my_imfilter2``, a ``.py``'s ``myImfilter``), else nothing."""
    names = [name for name, value in vars(module).items()
             if callable(value) and not name.startswith("_") and not _stand_in(value)
             ] if module is not None else []
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.6)
    if not close:
        lowered = {name.lower().replace("_", ""): name for name in names}
        close = [lowered[key] for key in [wanted.lower().replace("_", "")] if key in lowered]
    return f" (did you mean {close[0]!r}?)" if close else ""


def _stand_in(value) -> bool:
    """Whether ``value`` stands for a name a lifted notebook's import failed to bind."""
    try:
        return getattr(type(value), "_grader_stand_in", False) is True
    except Exception:  # a student's metaclass may raise anything
        return False


def _missing(module, name: str, function: str, found) -> str:
    """Why ``module`` (imported as ``name``) has no ``function``: what it was lifted from (a
    notebook), the closest name it has, and the failed import that bound the name, if one did."""
    origin = vars(module).get("_grader_notebook") if module is not None else None
    where = f"{origin} (lifted as {name}.py)" if isinstance(origin, str) else f"{name}.py"
    text = f"{where} defines no function {function!r}" + _did_you_mean(module, function)
    reason = vars(found).get("_reason") if _stand_in(found) else None
    return f"{text}; {reason}" if isinstance(reason, str) else text


def _run(header: dict, arrays: list, modules: dict) -> tuple[dict, list]:
    """Run the request's steps in order; later steps may use earlier results (e.g. a cache).

    A step whose argument is marked ``each`` is called once per slice of that
    array along axis 0 (e.g. a forward pass on every perturbed input of a
    numerical gradient).
    """
    results: list = []
    started = time.perf_counter()
    for index, step in enumerate(header["steps"]):
        name = step.get("module", header["module"])
        module = modules.get(name)
        function = getattr(module, step["function"], None) if module is not None else None
        if not callable(function) or _stand_in(function):
            return {"ok": False, "category": "missing_function", "step": index,
                    "error": _missing(module, name, step["function"], function)}, []
        try:
            results.append(_call_step(function, step["args"], arrays, results))
        except BaseException as exc:  # the student's exception, whatever it is
            category = "import_failed" if getattr(exc, "student_import", False) else "exception"
            return {**_failure(category, exc, started), "step": index}, []
    seconds = time.perf_counter() - started
    try:
        if header.get("return") is None:
            items, out_arrays = _describe(results[-1])
        else:
            items, out_arrays = _describe([_lookup(ref, results, header["steps"])
                                           for ref in header["return"]])
    except BaseException as exc:
        return _failure("exception", exc, started), []
    return {"ok": True, "seconds": seconds, "outputs": items,
            "tuple": isinstance(results[-1], (tuple, list))}, out_arrays


def _call_step(function, specs: list[dict], arrays: list, results: list):
    each = [i for i, spec in enumerate(specs) if spec.get("each")]
    if not each:
        return function(*[_argument(spec, arrays, results) for spec in specs])
    count = len(arrays[specs[each[0]]["array"]])
    outputs = []
    for item in range(count):
        args = [np.array(arrays[spec["array"]][item]) if spec.get("each")
                else _argument(spec, arrays, results) for spec in specs]
        outputs.append(function(*args))
    return outputs


def _argument(spec: dict, arrays: list, results: list):
    """A fresh copy of a sent array (the student may modify it), a JSON value, or an earlier result."""
    if "array" in spec:
        return np.array(arrays[spec["array"]])
    if "ref" in spec:
        step, index = spec["ref"]
        return results[step] if index is None else results[step][index]
    return spec["value"]


def _lookup(ref: list, results: list, steps: list):
    """Value ``index`` of step ``step``'s result (all of it for ``None``).

    A returned tuple or list shorter than ``index`` reads as ``None`` there,
    as if the missing values were ``None`` (the trusted side judges that).
    """
    step, index = ref
    value = results[step]
    if any(spec.get("each") for spec in steps[step]["args"]):
        return np.stack([np.asarray(r if index is None else r[index]) for r in value])
    if index is not None and isinstance(value, (tuple, list)) and not -len(value) <= index < len(value):
        return None
    return value if index is None else value[index]


def _describe(result) -> tuple[list[dict], list[np.ndarray]]:
    """Turn the return value into plain items: arrays, JSON scalars, None, or a type name."""
    values = list(result) if isinstance(result, (tuple, list)) else [result]
    items: list[dict] = []
    out_arrays: list[np.ndarray] = []
    for value in values:
        item, array = _plain(value)
        if array is not None:
            item["array"] = len(out_arrays)
            out_arrays.append(array)
        items.append(item)
    return items, out_arrays


def _plain(value) -> tuple[dict, np.ndarray | None]:
    if value is None:
        return {"kind": "none"}, None
    if isinstance(value, (bool, int, float)) and type(value) in (bool, int, float):
        return {"kind": "scalar", "value": value}, None
    if isinstance(value, str):
        return {"kind": "text", "value": value[:MAX_TEXT]}, None
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.array(value, copy=True)
    except MemoryError:
        raise  # reported as a memory outcome by the caller
    except BaseException:
        return {"kind": "unsupported", "type": type(value).__name__}, None
    if array.dtype.kind not in "biufc":
        return {"kind": "unsupported", "type": f"{type(value).__name__} of {array.dtype}"}, None
    return {"kind": "array", "type": type(value).__name__}, np.asarray(array).view(np.ndarray)


def _failure(category: str, exc: BaseException, started: float) -> dict:
    if isinstance(exc, MemoryError):
        category = "memory"
    text = str(exc) if category == "import_failed" else f"{type(exc).__name__}: {exc}"
    trace = student_traceback(exc)
    return {"ok": False, "category": category, "error": without_paths(text)[:MAX_TEXT],
            "traceback": without_paths(trace)[-4 * MAX_TEXT:],
            "seconds": time.perf_counter() - started}


HARNESS = os.path.dirname(os.path.abspath(__file__)) + os.sep
_PATHS: list[tuple[str, str]] = []  # (a folder of this machine, how a student reads it)


def _machine_paths(module_dir: str, home: str) -> list[tuple[str, str]]:
    """The folders of this machine that an error or traceback may name, longest first, each
    with what a student reads instead: their own files by name, the libraries under
    ``site-packages/``, the standard library under ``python3.X/``, the scratch folder as ``~``."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}/"
    libraries = [sysconfig.get_path("purelib"), sysconfig.get_path("platlib"),
                 *(path for path in sys.path
                   if os.path.basename(path) in ("site-packages", "dist-packages"))]
    names = {**{path: version for path in (sysconfig.get_path("stdlib"),
                                           sysconfig.get_path("platstdlib"))},
             **{path: "site-packages/" for path in libraries},
             home: "~/", module_dir: "", HARNESS: ""}
    found = {os.path.join(path, ""): shown for path, shown in names.items()
             if path and len(path.strip(os.sep)) > 1}
    return sorted(found.items(), key=lambda item: -len(item[0]))


def without_paths(text: str) -> str:
    """``text`` with the folders of this machine written as a student reads them."""
    for path, shown in _PATHS:
        text = text.replace(path, shown)
    return text


def student_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` as a student reads it: their frames and the libraries', never
    the harness's (its frames say nothing about their code, and name where it is installed)."""
    found = traceback.TracebackException.from_exception(exc)
    _without_harness(found, set())
    return "".join(found.format())


def _without_harness(found: traceback.TracebackException, seen: set[int]) -> None:
    if id(found) in seen:
        return
    seen.add(id(found))
    found.stack = traceback.StackSummary.from_list(
        [frame for frame in found.stack if not frame.filename.startswith(HARNESS)])
    for chained in (found.__cause__, found.__context__):
        if chained is not None:
            _without_harness(chained, seen)
