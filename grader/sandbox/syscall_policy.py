"""The seccomp allowlist of the sandbox, read from its reviewed data file (``syscalls.yaml``).

The file lists every system call student code may make, grouped by purpose, each with why
computation needs it, and the argument a call is restricted to where some of its forms are
dangerous (``clone`` without namespace flags, ``socket`` for Unix sockets inside namespaces
only, ``ioctl`` for terminal queries, ``prctl`` for reading options). Everything else is
refused. This module validates the file once (every entry says why, no call is both allowed
and refused, every constant is known) and compiles it into the plain rules a worker's
:mod:`~grader.worker.confine.seccomp` turns into a filter: the worker needs the
standard library only, so the YAML and the names of constants stay on the trusted side.
"""

from __future__ import annotations

import errno
import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

POLICY = Path(__file__).with_name("syscalls.yaml")
LOW_32_BITS = 0xFFFFFFFF

# The values of the constants the file names (Linux UAPI headers; the same on x86-64 and
# aarch64 for every name here).
CONSTANTS: dict[str, int] = {
    "AF_UNIX": 1,
    "CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
    "TCGETS": 0x5401, "TIOCGPGRP": 0x540F, "TIOCGWINSZ": 0x5413, "FIONREAD": 0x541B,
    "FIONBIO": 0x5421, "FIONCLEX": 0x5450, "FIOCLEX": 0x5451, "FIOASYNC": 0x5452,
    "PR_SET_PDEATHSIG": 1, "PR_GET_PDEATHSIG": 2, "PR_GET_DUMPABLE": 3, "PR_SET_NAME": 15,
    "PR_GET_NAME": 16, "PR_GET_SECCOMP": 21, "PR_CAPBSET_READ": 23, "PR_GET_TIMERSLACK": 30,
    "PR_GET_CHILD_SUBREAPER": 37, "PR_SET_NO_NEW_PRIVS": 38, "PR_GET_NO_NEW_PRIVS": 39,
    "PR_GET_TID_ADDRESS": 40, "PR_GET_THP_DISABLE": 42, "PR_SVE_GET_VL": 51,
    "PR_GET_SPECULATION_CTRL": 52, "PR_GET_TAGGED_ADDR_CTRL": 56, "PR_SME_GET_VL": 64,
    "PR_SET_VMA": 0x53564D41,
    "PERSONALITY_QUERY": 0xFFFFFFFF,
    "SELF": 0,  # a pid or "who" argument naming the calling process itself
    # ioctl requests of NVIDIA's drivers (open-gpu-kernel-modules: nv-ioctl-numbers.h,
    # nv_escape.h, nvidia-uvm/uvm_ioctl.h, uvm_linux_ioctl.h)
    "IOC_TYPE_MASK": 0xFF00,  # _IOC_TYPE's bits of a request
    "NV_IOCTL_TYPE": ord("F") << 8,  # NV_IOCTL_MAGIC: nvidia.ko's escapes, _IOC(dir, 'F', nr, size)
    "BELOW_256_MASK": 0xFFFFFF00,  # a request number below 256 (nvidia-uvm's UVM_IOCTL_BASE(i))
    "UVM_INITIALIZE": 0x30000001, "UVM_DEINITIALIZE": 0x30000002,
}


class PolicyError(ValueError):
    """The allowlist file is malformed (a reviewer's mistake, caught before any grading)."""


@dataclass(frozen=True)
class Allowed:
    """One allowed system call, and the one argument it is restricted to (if any)."""

    name: str
    group: str
    why: str
    arg: int | None = None
    one_of: tuple[int, ...] = ()  # the argument's low 32 bits equal one of these
    none_of: int = 0  # no bit of this mask is set in the argument
    namespaces_only: bool = False  # refused where the sandbox has no namespaces of its own
    any_with_gpu: bool = False  # unrestricted where the sandbox has GPU device files
    # where the sandbox has GPU device files and the narrowed GPU rule is asked for: besides
    # ``one_of``/``none_of``, the argument with each mask applied equal to its value, or one of
    # ``gpu_one_of`` (instead of ``any_with_gpu``)
    gpu_masked: tuple[tuple[int, int], ...] = ()
    gpu_one_of: tuple[int, ...] = ()


@dataclass(frozen=True)
class Policy:
    """The whole file: the default errno, what is allowed, what is refused and how."""

    default: int
    allowed: tuple[Allowed, ...]
    refused: dict[str, tuple[int, str]]  # name -> (errno, why)

    def names(self) -> set[str]:
        return {entry.name for entry in self.allowed}

    def rules(self, namespaces: bool, gpu: bool, narrow_gpu: bool = False) -> dict:
        """The compiled filter for a sandbox (JSON-able): ``default`` errno, ``allow`` as
        ``[name, [arg, mask, value] | None]`` (one rule each; several rules of one call are
        alternatives), and ``errno`` as ``[name, code]`` for calls refused otherwise.
        ``gpu``: the sandbox has GPU device files; ``narrow_gpu``: it gets the narrowed GPU
        rules (``gpu_narrow``) instead of ``gpu: any``."""
        allow: list[list] = []
        for entry in self.allowed:
            allow += _compiled(entry, namespaces, gpu, narrow_gpu)
        other = [[name, code] for name, (code, _) in sorted(self.refused.items())
                 if code != self.default]
        return {"default": self.default, "allow": allow, "errno": other}


def _compiled(entry: Allowed, namespaces: bool, gpu: bool, narrow_gpu: bool = False) -> list[list]:
    if entry.namespaces_only and not namespaces:
        return []
    narrowed = gpu and narrow_gpu and bool(entry.gpu_masked or entry.gpu_one_of)
    if entry.arg is None or (entry.any_with_gpu and gpu and not narrowed):
        return [[entry.name, None]]
    if entry.none_of:
        rules = [[entry.name, [entry.arg, entry.none_of, 0]]]
    else:
        rules = [[entry.name, [entry.arg, LOW_32_BITS, value]] for value in entry.one_of]
    if narrowed:
        rules += [[entry.name, [entry.arg, mask, value]] for mask, value in entry.gpu_masked]
        rules += [[entry.name, [entry.arg, LOW_32_BITS, value]] for value in entry.gpu_one_of]
    return rules


@functools.cache
def load(path: Path = POLICY) -> Policy:
    """Read and validate the allowlist file.

    Raises
    ------
    PolicyError
        Naming the entry that is wrong: no reason given, an unknown constant or errno, a
        call both allowed and refused.
    """
    data = yaml.safe_load(path.read_text())
    default = _errno(data.get("default", "EPERM"), "default")
    allowed = tuple(_entry(name, group, value) for group, calls in data["groups"].items()
                    for name, value in calls.items())
    refused = {name: (_errno(code, name), _why(name, why))
               for code, calls in data.get("refused", {}).items() for name, why in calls.items()}
    seen: set[str] = set()
    for entry in allowed:
        if entry.name in seen or entry.name in refused:
            raise PolicyError(f"{path.name}: {entry.name} is listed twice (or allowed and refused)")
        seen.add(entry.name)
    return Policy(default, allowed, refused)


def _entry(name: str, group: str, value) -> Allowed:
    if isinstance(value, str):
        return Allowed(name, group, _why(name, value))
    if not isinstance(value, dict):
        raise PolicyError(f"syscalls.yaml: {name} must be a reason or {{why, when}}")
    unknown = set(value) - {"why", "when", "namespaces", "gpu", "gpu_narrow"}
    if unknown:
        raise PolicyError(f"syscalls.yaml: {name} has unknown keys {sorted(unknown)}")
    masked, gpu_one_of = _gpu_narrow(name, value.get("gpu_narrow"),
                                     (value.get("when") or {}).get("arg"))
    when = value.get("when") or {}
    arg = when.get("arg")
    one_of = tuple(_constant(name, c) for c in when.get("one_of", []))
    none_of = 0
    for flag in when.get("none_of", []):
        none_of |= _constant(name, flag)
    if when and (arg is None or bool(one_of) == bool(none_of)):
        raise PolicyError(f"syscalls.yaml: {name}'s 'when' needs arg and one of one_of/none_of")
    return Allowed(name, group, _why(name, value.get("why")), arg, one_of, none_of,
                   bool(value.get("namespaces")), value.get("gpu") == "any", masked, gpu_one_of)


def _gpu_narrow(name: str, narrow, arg) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """The ``gpu_narrow`` part of an entry: its ``[mask, value]`` pairs and ``one_of`` values
    (constants or numbers), on the argument ``when`` restricts."""
    if narrow is None:
        return (), ()
    if not isinstance(narrow, dict) or set(narrow) - {"arg", "masked", "one_of"} \
            or narrow.get("arg") != arg or arg is None:
        raise PolicyError(f"syscalls.yaml: {name}'s gpu_narrow needs the arg of its 'when' "
                          "and masked: [[mask, value], ...] and/or one_of: [...]")
    pairs = []
    for pair in narrow.get("masked", []):
        if not isinstance(pair, list) or len(pair) != 2:
            raise PolicyError(f"syscalls.yaml: {name}'s gpu_narrow.masked takes "
                              "[mask, value] pairs")
        pairs.append((_value(name, pair[0]), _value(name, pair[1])))
    return tuple(pairs), tuple(_value(name, c) for c in narrow.get("one_of", []))


def _value(name: str, value) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _constant(name, value)


def _why(name: str, why) -> str:
    if not isinstance(why, str) or len(why.split()) < 2:
        raise PolicyError(f"syscalls.yaml: {name} must say why (a few words at least)")
    return " ".join(why.split())


def _constant(name: str, constant: str) -> int:
    if constant not in CONSTANTS:
        raise PolicyError(f"syscalls.yaml: {name} names {constant}, which syscall_policy.CONSTANTS lacks")
    return CONSTANTS[constant]


def _errno(code: str, where: str) -> int:
    value = getattr(errno, str(code), None)
    if not isinstance(value, int):
        raise PolicyError(f"syscalls.yaml: {where}: {code} is not an errno name")
    return value
