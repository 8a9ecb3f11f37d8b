"""Hostile: looks for what the trusted side held and a sandbox might inherit. A warm
worker's zygote prepares the Landlock ruleset of its slot before it forks (a ruleset's
descriptor still takes rules: one added here would reach every later sandbox), the grader
opens the sandbox's cgroup files for it, and the zygote talks to the grader on a socket. It
earns the points only if any such descriptor is open in the student's process, and adds a
rule to a ruleset when it finds one."""

import ctypes
import os
import struct

from attack import graded_if

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_ADD_RULE, _PATH_BENEATH, _READ_FILE = 445, 1, 1 << 2


def _foreign() -> list[str]:
    """The descriptors that are neither the standard streams nor pipes (request, reply)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if "landlock" in target or "cgroup" in target or target.startswith("socket:"):
            found.append(target)
            if "landlock" in target:
                _widen(int(name))
    return found


def _widen(ruleset: int) -> None:
    """Grant reading the whole filesystem in the ruleset (for the sandboxes after this one)."""
    root = os.open("/", os.O_PATH)
    rule = struct.pack("=Qi", _READ_FILE, root)
    _libc.syscall(ctypes.c_long(_ADD_RULE), ctypes.c_int(ruleset), ctypes.c_int(_PATH_BENEATH),
                  ctypes.c_char_p(rule), ctypes.c_uint32(0))


my_imfilter, create_hybrid_image = graded_if(lambda: bool(_foreign()))
