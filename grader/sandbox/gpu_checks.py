"""Self-checks of the GPU path that need no GPU, each in an interpreter of its own (the test
suite and ``benchmarks/gpu_check.py`` run them):

- :func:`zygote_preload_report`: a warm worker's zygote preloads torch and torchvision with
  every way into CUDA's driver spied; none may be called (a process that forks after CUDA
  was initialised hands its children a broken context);
- :func:`ioctl_errnos`: the allowlist a GPU sandbox gets, installed, and ``ioctl`` requests
  tried on a pipe and a socket: one the filter lets through reaches the descriptor's driver
  (a pipe answers ``ENOTTY``), one it refuses is ``EPERM``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from grader.sandbox import syscall_policy
from grader.sandbox.installation import WORKER_DIR

# Every way into CUDA's driver a preloaded library could take at import (torch.cuda's and
# torch._C's): is_available alone initialises the driver.
CUDA_ENTRIES = ("_lazy_init", "init", "is_available", "device_count", "_cuda_getDeviceCount",
                "_cuda_init")
# The requests :func:`ioctl_errnos` tries: NVIDIA's (NV_ESC_CHECK_VERSION_STR, NV_ESC_RM_ALLOC,
# UVM_INITIALIZE, UVM_CREATE_RANGE_GROUP), a terminal query (TCGETS) on the pipe, then a
# socket's own request (SIOCGIFCONF) and TIOCSTI.
NVIDIA_REQUESTS = (0xC04846D2, 0xC020462B, 0x30000001, 23)
TERMINAL_QUERY, SOCKET_REQUEST, TIOCSTI = 0x5401, 0x8912, 0x5412


def zygote_preload_report(preload: tuple[str, ...] = ("torch", "torchvision")) -> dict:
    """What the zygote's preloading of ``preload`` did to CUDA: ``preloaded`` (what it
    loaded), ``calls`` (the CUDA entries called, none expected), ``initialized``
    (``torch.cuda.is_initialized()``) and ``held`` (:func:`zygote.cuda_held`)."""
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(WORKER_DIR)!r})
        import torch
        calls = []
        def spy(name, real):
            def wrapper(*args, **kwargs):
                calls.append(name)
                return real(*args, **kwargs)
            return wrapper
        for owner in (torch.cuda, torch._C):
            for name in {CUDA_ENTRIES!r}:
                if hasattr(owner, name):
                    setattr(owner, name, spy(name, getattr(owner, name)))
        import zygote
        preloaded = zygote._preload({list(preload)!r})
        print(json.dumps({{"preloaded": preloaded, "calls": calls,
                          "initialized": torch.cuda.is_initialized(),
                          "held": zygote.cuda_held()}}))
        """)
    return json.loads(_run(code, timeout_s=300).splitlines()[-1])


def ioctl_errnos(narrow: bool) -> dict[str, list[int]]:
    """The errno (0: it succeeded) of each request under a GPU sandbox's allowlist (the
    narrowed GPU rule with ``narrow``, else every ioctl): ``nvidia`` (:data:`NVIDIA_REQUESTS`
    and the terminal query, on a pipe), ``socket`` (SIOCGIFCONF on a socket), ``tiocsti``."""
    rules = json.dumps(syscall_policy.load().rules(namespaces=False, gpu=True, narrow_gpu=narrow))
    code = textwrap.dedent(f"""
        import ctypes, json, os, socket, sys
        sys.path.insert(0, {str(WORKER_DIR)!r})
        from confine import seccomp
        read, _ = os.pipe()
        ours, _ = socket.socketpair()
        seccomp.install(json.loads({rules!r}), [os.getppid()])
        libc = ctypes.CDLL(None, use_errno=True)
        buffer = ctypes.create_string_buffer(4096)
        def errno_of(fd, request):
            return 0 if libc.ioctl(fd, ctypes.c_ulong(request), buffer) == 0 else ctypes.get_errno()
        print(json.dumps({{
            "nvidia": [errno_of(read, r) for r in {NVIDIA_REQUESTS + (TERMINAL_QUERY,)!r}],
            "socket": [errno_of(ours.fileno(), {SOCKET_REQUEST})],
            "tiocsti": [errno_of(read, {TIOCSTI})]}}))
        """)
    return json.loads(_run(code, timeout_s=60))


def _run(code: str, timeout_s: float) -> str:
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-500:] or f"exit status {proc.returncode}")
    return proc.stdout.strip()
