"""Which system calls real workloads make inside the sandbox, after its seccomp filter is on.

Every workload runs through the real sandbox (:mod:`grader.sandbox`) under ``strace -f``. The
log is read twice: first to rebuild the process tree (``clone``/``clone3``/``fork``/``vfork``
give each child's pid, translated out of bubblewrap's PID namespace with
``--decode-pids=pidns``) and to find the moment each process or thread installs a filter (a
successful ``seccomp(SECCOMP_SET_MODE_FILTER, ...)`` or ``prctl(PR_SET_SECCOMP, ...)``);
everything it starts afterwards is filtered too. Then every call a *filtered* task makes is
counted: its name, the arguments that matter for an allow-list (clone flags, socket domains,
ioctl requests, prctl options, mmap/mprotect protections, open flags, ...) and how it failed.
Failures with EPERM, EACCES or ENOSYS are *refusals*: the repository's seccomp allowlist
(``grader/sandbox/syscalls.yaml``; an older checkout's deny-list in
``grader/worker/confine/seccomp.py``), Landlock (EACCES on files) or the kernel. Calls of the isolation probe (``worker/main.py --probe``, which imports numpy under
the filter at every grader start) are reported as the workload ``probe``.

Workloads (``--list`` prints them):

- ``proj1`` .. ``proj4``: ``python -m grader.cli grade`` of the examples in ``examples/``
  (proj4: ``alice_correct`` only, which trains a CNN with torch in the ``f18_proj6`` course
  environment, without course data: about 1-2 minutes under strace), one run per mode and
  warmth;
- the library workloads (numpy threads, scipy, torch training, a DataLoader with
  ``num_workers=2``, torchvision, OpenCV, matplotlib, pandas, PIL, scikit-image,
  multiprocessing, subprocess, threads, tempfile, timers, randomness, file I/O): one function
  each in a module this script writes to a scratch folder, called through
  :class:`grader.sandbox.SandboxSession`, all of one mode and warmth in one grader process
  (each in a fresh sandbox, attributed by a marker the driver stats between them). A function
  reports each attempt (``ok`` or ``FAILED`` with the exception) instead of stopping at the
  first failure.

Modes: ``bwrap`` (the default sandbox) and ``nobwrap`` (``GRADER_NO_BWRAP=1``: Landlock,
seccomp and the rest without namespaces); warmth: ``warm`` (forked from a zygote that
preloaded the workload's libraries) and ``cold`` (``GRADER_WARM=0``). ``GRADER_THREADS`` is
set (2 unless ``--threads``), ``GRADER_DISABLE_LAYERS`` is removed. Grading runs one
submission at a time (``-j 1``) and one workload runs at a time.

Run (root, with strace installed; the course environment ``f18_proj6`` built; all 20 jobs
take about 20 minutes on two cores, one at a time)::

    python benchmarks/trace_syscalls.py --json /tmp/syscalls.json
    python benchmarks/trace_syscalls.py --workloads proj1,torch_dataloader --modes bwrap \\
        --warmth cold --keep-traces /tmp/traces

``--repo DIR`` traces another checkout (say, ``git archive HEAD`` unpacked in /tmp while the
working tree changes); ``--data DIR`` sets ``GRADER_DATA`` (default ``../shared/data`` of the
repository when present). It prints Markdown: what each workload returned, the table of calls
(syscall, workloads that made it, count, notable arguments, failures), the refusals per
workload, and the names seen (an allow-list's starting point); ``--json`` writes the raw data.

Limits: a filter loaded with ``SECCOMP_FILTER_FLAG_TSYNC`` (which libseccomp does not ask
for) would also cover the caller's other threads; they are not followed (a warning says so).
strace slows system-call-heavy code several times, so timing-sensitive checks may time out.
Whether the sandbox runs as a uid of its own depends on other uids reaching Python (the
folders above it need ``o+x``, probed once per grader process); tests on a shared machine open
them for a while. A job whose sandboxes ran under their own uid (a successful ``setuid`` before
the filter) while those folders changed is run again, up to three times; the outcomes say
which workloads ran under their own uid. ``--report-from JSON`` prints a saved run's report.
"""

from __future__ import annotations

import argparse
import bisect
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

REPO = Path(__file__).resolve().parents[1]
MODULE = "syscall_workloads"
MARKER = "/.trace-syscalls/"  # the library driver stats MARKER + workload before each one
END = "(end)"
PROBE = "probe"
REFUSALS = ("EPERM", "EACCES", "ENOSYS")
STRACE_ARGS = ["-f", "-q", "--decode-pids=pidns", "-s", "120"]
MODES = {"bwrap": {}, "nobwrap": {"GRADER_NO_BWRAP": "1"}}
WARMTH = {"warm": {"GRADER_WARM": "1"}, "cold": {"GRADER_WARM": "0"}}
ATTEMPTS = 3  # runs of a job while the folders above Python keep changing under it
MAX_VALUES = 40  # distinct values kept per argument of one call; the rest are "(other)"


# -- workloads -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """One thing a sandbox runs: a ``grade`` of examples, or one library function."""

    name: str
    about: str
    grade: tuple[str, ...] = ()  # assignment, then submission paths (relative to the repo)
    environment: str | None = None  # a course environment's name; None: the harness's Python
    preload: tuple[str, ...] = ()  # what a warm zygote imports first (as the grader would)
    timeout_s: float = 240.0
    course_data: bool = True  # False: GRADER_DATA=/dev/null, the course-data checks skipped


def _library(name: str, about: str, *preload: str, environment: str | None = None) -> Workload:
    return Workload(name, about, environment=environment, preload=preload)


TORCH_ENV = "f18_proj6"
WORKLOADS = [
    Workload("proj1", "grade proj1_filtering examples",
             ("proj1_filtering", "assignments/proj1_filtering/examples")),
    Workload("proj2", "grade proj2_features examples",
             ("proj2_features", "assignments/proj2_features/examples")),
    Workload("proj3", "grade proj3_backprop examples (numpy1 environment)",
             ("proj3_backprop", "assignments/proj3_backprop/examples")),
    # without course data: the 15-scene check trains for minutes more (8 under strace) on the
    # code path of the glyph check, which runs
    Workload("proj4", "grade proj4_cnn alice_correct (f18_proj6: torch training; no course data)",
             ("proj4_cnn", "assignments/proj4_cnn/examples/alice_correct"), course_data=False),
    _library("numpy_threads", "numpy linalg/FFT with OpenBLAS set to 2 threads"),
    _library("scipy_ops", "scipy.ndimage, scipy.signal, scipy.linalg, scipy.fft(workers=2)",
             "scipy"),
    _library("torch_train", "tiny CNN, 2 threads, SGD, torch.save/load", "torch",
             environment=TORCH_ENV),
    _library("torch_dataloader", "DataLoader(num_workers=2), then num_workers=0", "torch",
             environment=TORCH_ENV),
    _library("torchvision_data", "ImageFolder on saved JPEGs, transforms v1 and v2", "torch",
             "torchvision", "PIL", environment=TORCH_ENV),
    _library("opencv", "cv2 blur/filter2D/Canny/Harris/SIFT, imwrite/imread", "cv2"),
    _library("matplotlib_agg", "pyplot with Agg, savefig PNG (font cache built in scratch)"),
    _library("pandas_csv", "DataFrame to_csv/read_csv/groupby/to_json"),
    _library("pil_image", "PIL fromarray/save PNG+JPEG/open/resize/filter/draw text", "PIL"),
    _library("skimage_ops", "skimage filters/feature/transform, io.imsave", "scipy", "skimage"),
    _library("mp_pool", "multiprocessing.Pool(2): fork, spawn, forkserver; Queue; shared_memory"),
    _library("process_pool", "concurrent.futures.ProcessPoolExecutor(2)"),
    _library("subprocess_run", "subprocess.run python3 / sys.executable / shell"),
    _library("os_system", "os.system and os.popen"),
    _library("threads", "threading.Thread, ThreadPoolExecutor, Timer, Queue"),
    _library("tempfiles", "tempfile: TemporaryDirectory, NamedTemporaryFile, mkstemp, Spooled"),
    _library("timers", "time.sleep, signal.alarm, setitimer, faulthandler"),
    _library("randomness", "np.random, random, os.urandom, secrets, uuid"),
    _library("file_io", "files in HOME, /tmp and /dev/shm; np.save/memmap, pickle, shutil"),
]
BY_NAME = {workload.name: workload for workload in WORKLOADS}

# The module the library workloads call (each function imports what it uses, so that a cold
# worker imports it under the filter, as a student's module would).
LIBRARY_SOURCE = r'''
"""Library workloads for benchmarks/trace_syscalls.py: one function each."""
import os
import sys

HOME = os.environ.get("HOME", ".")


def _attempt(label, action):
    try:
        return f"{label}: ok ({action()})"
    except Exception as exc:  # noqa: BLE001 - the report says what failed
        return f"{label}: FAILED {type(exc).__name__}: {exc}"


def _report(*attempts):
    return "; ".join(attempts)


def _square(value):
    return value * value


def _tasks():
    return len(os.listdir("/proc/self/task"))


def _openblas_threads(count):
    import ctypes
    paths = {line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line.lower()}
    for path in sorted(paths):
        library = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                     "scipy_openblas_set_num_threads", "openblas_set_num_threads"):
            if hasattr(library, name):
                getattr(library, name)(count)
                return name
    raise RuntimeError("no OpenBLAS loaded")


def numpy_threads():
    import numpy as np
    setter = _attempt("openblas threads", lambda: _openblas_threads(2))
    a = np.random.default_rng(0).standard_normal((500, 500))
    for step in (lambda: a @ a, lambda: np.linalg.solve(a, a[:, 0]), lambda: np.linalg.inv(a),
                 lambda: np.linalg.svd(a), lambda: np.linalg.eigvals(a),
                 lambda: np.linalg.eigh(a @ a.T), lambda: np.linalg.qr(a),
                 lambda: np.linalg.lstsq(a, a[:, 0], rcond=None), lambda: np.fft.fft2(a)):
        step()
    return _report(setter, f"threads {_tasks()}")


def scipy_ops():
    import numpy as np
    from scipy import fft, linalg, ndimage, signal, spatial
    image = np.random.default_rng(0).random((128, 128))
    ndimage.gaussian_filter(image, 2.0); ndimage.sobel(image, 0)
    ndimage.convolve(image, np.ones((3, 3))); ndimage.label(image > 0.5)
    ndimage.maximum_filter(image, 5); ndimage.map_coordinates(image, [[1.5], [2.5]])
    signal.convolve2d(image, np.ones((5, 5)), mode="same"); signal.fftconvolve(image, image)
    signal.correlate2d(image[:32, :32], np.ones((3, 3)))
    linalg.svd(image); linalg.lu_factor(image); linalg.expm(image[:32, :32] / 100)
    fft.fft2(image, workers=2); spatial.distance.cdist(image[:50], image[:50])
    return f"threads {_tasks()}"


def torch_train():
    import torch
    from torch import nn
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                          nn.Linear(16, 15))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images, labels = torch.randn(64, 1, 64, 64), torch.randint(0, 15, (64,))
    for _ in range(15):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
    path = os.path.join(HOME, "model.pt")
    torch.save(model.state_dict(), path)
    model.load_state_dict(torch.load(path))
    with torch.no_grad():
        model.eval()(images[:4])
    return f"loss {loss.item():.3f}, torch threads {torch.get_num_threads()}, tasks {_tasks()}"


class _Squares:
    def __len__(self):
        return 16

    def __getitem__(self, index):
        import torch
        return torch.full((3, 8, 8), float(index)), index


def _load(workers):
    from torch.utils.data import DataLoader
    loader = DataLoader(_Squares(), batch_size=4, num_workers=workers, timeout=20 if workers else 0)
    return f"label sum {sum(int(labels.sum()) for _, labels in loader)}"


def torch_dataloader():
    import torch
    return _report(_attempt("num_workers=2", lambda: _load(2)),
                   _attempt("num_workers=0", lambda: _load(0)),
                   f"sharing strategy {torch.multiprocessing.get_sharing_strategy()}")


def torchvision_data():
    import numpy as np
    import torch
    from PIL import Image
    from torchvision import datasets, transforms
    from torchvision.transforms import v2
    root = os.path.join(HOME, "images")
    for label in ("cat", "dog"):
        os.makedirs(os.path.join(root, label), exist_ok=True)
        for index in range(3):
            pixels = np.random.default_rng(index).integers(0, 256, (80, 80, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(os.path.join(root, label, f"{index}.jpg"))
    pipeline = transforms.Compose([transforms.Grayscale(), transforms.Resize(64),
                                   transforms.RandomHorizontalFlip(), transforms.CenterCrop(64),
                                   transforms.ToTensor(), transforms.Normalize([0.5], [0.2])])
    loader = torch.utils.data.DataLoader(datasets.ImageFolder(root, transform=pipeline),
                                         batch_size=4, shuffle=True)
    shapes = [tuple(batch.shape) for batch, _ in loader]
    augment = v2.Compose([v2.RandomResizedCrop(32, antialias=True), v2.ColorJitter(0.2)])
    augment(torch.rand(3, 64, 64))
    return f"batches {shapes}"


def opencv():
    import cv2
    import numpy as np
    rng = np.random.default_rng(0)
    color = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
    gray = cv2.GaussianBlur(cv2.cvtColor(color, cv2.COLOR_BGR2GRAY), (5, 5), 1.5)
    filtered = cv2.filter2D(gray, -1, np.ones((3, 3), np.float32) / 9)
    cv2.Canny(gray, 50, 150); cv2.cornerHarris(np.float32(gray), 2, 3, 0.04)
    cv2.resize(color, (160, 120))
    cv2.warpAffine(gray, np.float32([[1, 0, 5], [0, 1, 5]]), (320, 240))
    keypoints, _ = cv2.SIFT_create().detectAndCompute(gray, None)
    path = os.path.join(HOME, "out.png")
    cv2.imwrite(path, filtered)
    cv2.imwrite(os.path.join(HOME, "out.jpg"), color)
    back = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    return (f"{len(keypoints)} keypoints, read {back.shape}, cv2 threads {cv2.getNumThreads()}, "
            f"tasks {_tasks()}")


def matplotlib_agg():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    figure, axes = plt.subplots(1, 2)
    axes[0].imshow(np.random.default_rng(0).random((32, 32)), cmap="gray")
    axes[1].plot([0, 1, 2], [2, 0, 1], label="line")
    axes[1].legend(); figure.suptitle("trace")
    path = os.path.join(HOME, "plot.png")
    figure.savefig(path)
    plt.close(figure)
    return f"{os.path.getsize(path)} bytes"


def pandas_csv():
    import numpy as np
    import pandas as pd
    frame = pd.DataFrame({"student": list("abcabc"), "score": np.arange(6.0)})
    path = os.path.join(HOME, "scores.csv")
    frame.to_csv(path, index=False)
    back = pd.read_csv(path)
    back.groupby("student").score.mean().to_json(os.path.join(HOME, "means.json"))
    return f"{len(back)} rows"


def pil_image():
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter, ImageFont
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    for name in ("a.png", "a.jpg", "a.bmp"):
        image.save(os.path.join(HOME, name))
    back = Image.open(os.path.join(HOME, "a.png")).convert("L").resize((32, 32))
    back.filter(ImageFilter.GaussianBlur(2))
    ImageDraw.Draw(image).text((2, 2), "hello", font=ImageFont.load_default())
    return f"{back.size}"


def skimage_ops():
    import numpy as np
    from skimage import color, feature, filters, io, transform
    rgb = np.random.default_rng(0).random((96, 96, 3))
    gray = color.rgb2gray(rgb)
    filters.sobel(gray); filters.gaussian(gray, 2); filters.threshold_otsu(gray)
    feature.canny(gray); feature.corner_peaks(feature.corner_harris(gray)); feature.hog(gray)
    feature.peak_local_max(gray, min_distance=3)
    transform.resize(gray, (48, 48)); transform.rotate(gray, 30)
    path = os.path.join(HOME, "sk.png")
    io.imsave(path, (gray * 255).astype(np.uint8))
    return f"read back {io.imread(path).shape}"


def _pool(method):
    import multiprocessing
    with multiprocessing.get_context(method).Pool(2) as pool:
        return str(pool.map_async(_square, range(6)).get(timeout=20))


def _queue():
    import multiprocessing
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=queue.put, args=(42,))
    process.start()
    value = queue.get(timeout=30)
    process.join(30)
    return f"got {value}, exit {process.exitcode}"


def _shared_memory():
    from multiprocessing import shared_memory
    block = shared_memory.SharedMemory(create=True, size=1024)
    block.buf[0] = 7
    block.close(); block.unlink()
    return "created and unlinked"


def mp_pool():
    return _report(*(_attempt(f"Pool(2) {method}", lambda m=method: _pool(m))
                     for method in ("fork", "spawn", "forkserver")),
                   _attempt("Process+Queue", _queue), _attempt("shared_memory", _shared_memory))


def process_pool():
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(2) as executor:
        return str(list(executor.map(_square, range(6), timeout=20)))


def _run(argv, **options):
    import subprocess
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, **options)
    if done.returncode:
        raise OSError(f"exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def subprocess_run():
    return _report(_attempt("python3 -c", lambda: _run(["python3", "-c", "print(1)"])),
                   _attempt("sys.executable -c", lambda: _run([sys.executable, "-c", "print(2)"])),
                   _attempt("shell=True", lambda: _run("echo 3 | cat", shell=True)))


def _system():
    status = os.system("echo from-os-system > /dev/null")
    if status != 0:
        raise OSError(f"os.system returned {status}")
    return "status 0"


def os_system():
    return _report(_attempt("os.system", _system),
                   _attempt("os.popen", lambda: os.popen("echo popen").read().strip()))


def threads():
    import queue
    import threading
    from concurrent.futures import ThreadPoolExecutor
    import numpy as np
    results, lock, done = queue.Queue(), threading.Lock(), threading.Event()

    def work(seed):
        with lock:
            results.put(float(np.random.default_rng(seed).random((200, 200)).sum()))

    workers = [threading.Thread(target=work, args=(seed,)) for seed in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    with ThreadPoolExecutor(2) as executor:
        list(executor.map(work, range(4)))
    threading.Timer(0.05, done.set).start()
    done.wait(5)
    return f"{results.qsize()} results, timer fired {done.is_set()}"


def tempfiles():
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        with tempfile.NamedTemporaryFile("w+", dir=folder) as handle:
            handle.write("x"); handle.flush()
    descriptor, path = tempfile.mkstemp(suffix=".npy")
    os.close(descriptor); os.unlink(path)
    with tempfile.SpooledTemporaryFile(max_size=10) as spooled:
        spooled.write(b"more than ten bytes")
    with tempfile.TemporaryFile() as anonymous:
        anonymous.write(b"x")
    return f"tempdir {tempfile.gettempdir()}"


def timers():
    import faulthandler
    import resource
    import signal
    import time
    fired = []
    signal.signal(signal.SIGALRM, lambda number, frame: fired.append(number))
    time.sleep(0.05)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    time.sleep(0.2)
    signal.alarm(1)
    deadline = time.monotonic() + 3
    while len(fired) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    faulthandler.dump_traceback_later(30)
    faulthandler.cancel_dump_traceback_later()
    time.process_time(); time.thread_time(); resource.getrusage(resource.RUSAGE_SELF)
    return f"alarms fired {len(fired)}"


def randomness():
    import random
    import secrets
    import uuid
    import numpy as np
    np.random.seed(); np.random.default_rng().random(3); random.seed()
    random.SystemRandom().random(); os.urandom(16); secrets.token_hex(8); uuid.uuid4()
    return "ok"


def _write_read(folder):
    path = os.path.join(folder, "probe.txt")
    with open(path, "w") as handle:
        handle.write("x")
    with open(path) as handle:
        handle.read()
    os.unlink(path)
    return folder


def file_io():
    import glob
    import json
    import pickle
    import shutil
    import numpy as np
    work = os.path.join(HOME, "work")
    os.makedirs(work, exist_ok=True)
    array = np.arange(1000.0)
    np.save(os.path.join(work, "a.npy"), array); np.load(os.path.join(work, "a.npy"))
    np.savez_compressed(os.path.join(work, "b.npz"), a=array)
    np.load(os.path.join(work, "b.npz"))["a"]
    mapped = np.memmap(os.path.join(work, "m.dat"), dtype="float32", mode="w+", shape=(256,))
    mapped[:] = 1; mapped.flush(); del mapped
    with open(os.path.join(work, "p.pkl"), "wb") as handle:
        pickle.dump({"a": 1}, handle)
    with open(os.path.join(work, "j.json"), "w") as handle:
        json.dump([1, 2], handle)
        handle.flush(); os.fsync(handle.fileno())
    shutil.copy(os.path.join(work, "j.json"), os.path.join(work, "k.json"))
    os.replace(os.path.join(work, "k.json"), os.path.join(work, "l.json"))
    os.chmod(os.path.join(work, "l.json"), 0o600); os.utime(os.path.join(work, "l.json"))
    os.truncate(os.path.join(work, "l.json"), 1)
    target = os.path.join(work, "l.json")
    links = _attempt("symlink+link", lambda: (os.symlink("l.json", os.path.join(work, "s")),
                                              os.link(target, os.path.join(work, "h"))))
    listing = sorted(glob.glob(os.path.join(work, "*"))) + [e.name for e in os.scandir(work)]
    shutil.copytree(work, os.path.join(HOME, "copy")); shutil.rmtree(os.path.join(HOME, "copy"))
    return _report(f"{len(listing)} entries", links,
                   _attempt("/tmp", lambda: _write_read("/tmp")),
                   _attempt("/dev/shm", lambda: _write_read("/dev/shm")),
                   _attempt("outside scratch", lambda: _write_read("/var/tmp")))
'''


# -- reading strace's log ------------------------------------------------------------------

class Record(NamedTuple):
    """One system call: the log line where it started, the task, its name, the argument text,
    and what followed ``) = `` (``None`` when the task died inside the call)."""

    line: int
    pid: int
    name: str
    args: str
    result: str | None


_LINE = re.compile(r"(\d+)\s+(.*)")
_CALL = re.compile(r"(\w+)\((.*)")
_RESUMED = re.compile(r"<\.\.\. (\w+) resumed>(.*)")
_RESULT = re.compile(r"(-?\d+|0x[0-9a-f]+|\?)(?:\s+(E[A-Z0-9]+)\b)?")
_NS_PID = re.compile(r"/\* (\d+) in strace's PID NS \*/")
_MARK = re.compile(re.escape(MARKER) + r"([^\"]+)\"")
_UNFINISHED = "<unfinished ...>"


def records(path: Path) -> Iterator[Record]:
    """Every system call of a ``strace -f`` log, its ``<unfinished ...>`` and ``<... resumed>``
    halves joined (a call the task never returned from is yielded when the task exits)."""
    pending: dict[int, tuple[int, str, str]] = {}
    with open(path, errors="replace") as log:
        for index, line in enumerate(log):
            match = _LINE.match(line)
            if not match:
                continue
            pid, rest = int(match[1]), match[2]
            if rest.startswith("+++") and pid in pending:
                start, name, head = pending.pop(pid)
                yield Record(start, pid, name, head, None)
            elif (resumed := _RESUMED.match(rest)):
                start, name, head = pending.pop(pid, (index, resumed[1], ""))
                yield _record(start, pid, name, head + resumed[2])
            elif not rest.startswith(("+++", "---")) and (call := _CALL.match(rest)):
                if rest.endswith(_UNFINISHED):
                    pending[pid] = (index, call[1], call[2][:-len(_UNFINISHED)].rstrip() + " ")
                else:
                    yield _record(index, pid, call[1], call[2])
    for pid, (start, name, head) in pending.items():
        yield Record(start, pid, name, head, None)


def _record(index: int, pid: int, name: str, body: str) -> Record:
    cut = _result_start(body)
    if cut < 0:
        return Record(index, pid, name, body.rstrip(") \n"), None)
    closing = body.rfind(")", 0, cut)
    return Record(index, pid, name, body[:closing].rstrip(), body[cut + 2:].strip())


def _result_start(body: str) -> int:
    """Where ``= RESULT`` starts: the last ``= `` that follows the closing parenthesis and the
    spaces strace aligns results with; -1 for a call without a result."""
    cut = body.rfind("= ")
    while cut > 0:
        before = body[:cut].rstrip(" ")
        if before.endswith(")") and len(before) < cut:
            return cut
        cut = body.rfind("= ", 0, cut)
    return -1


def outcome(record: Record) -> tuple[str | None, str | None]:
    """The return value's text and the errno name (``None`` unless the call returned -1)."""
    match = _RESULT.match(record.result or "")
    if not match:
        return None, None
    return match[1], (match[2] if match[1] == "-1" else None)


def child_pid(record: Record) -> int | None:
    """The pid (in strace's namespace) a successful clone/clone3/fork/vfork returned."""
    value, _ = outcome(record)
    translated = _NS_PID.search(record.result or "")
    if translated:
        return int(translated[1])
    return int(value) if value and value.isdigit() and int(value) > 0 else None


def split_args(text: str, most: int = 99) -> list[str]:
    """The top-level, comma-separated arguments of a call's text (strings, brackets and
    ``/* comments */`` kept whole), at most ``most`` of them."""
    parts: list[str] = []
    depth, start, i, quoted = 0, 0, 0, False
    while i < len(text) and len(parts) < most:
        char = text[i]
        if quoted:
            quoted = char != '"'
            i += 2 if char == "\\" else 1
            continue
        if char == '"':
            quoted = True
        elif text.startswith("/*", i):
            end = text.find("*/", i)
            i = len(text) if end < 0 else end + 2
            continue
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    if len(parts) < most and text[start:].strip():
        parts.append(text[start:].strip())
    return parts


# -- which tasks are filtered ----------------------------------------------------------------

@dataclass
class Life:
    """One task (process or thread) between its birth and the reuse of its pid."""

    born: int  # log line of the call that created it; -1 for a task that was there first
    command: str = ""  # the arguments of the last execve it (or its ancestors) made
    filtered_from: int | None = None  # log line of its own filter, or of its birth
    role: str = "worker"  # or PROBE
    own_uid: bool = False  # it (or an ancestor) switched to a non-root uid: the uid layer

    def filtered(self, index: int) -> bool:
        return self.filtered_from is not None and index > self.filtered_from


class ProcessTree:
    """Pass one over a log: every task, who started it, from which line it is filtered, the
    workload markers the library driver left, and the filtered tasks of each workload (and
    those of them that ran under a uid of their own)."""

    FORKS = ("clone", "clone3", "fork", "vfork")

    def __init__(self, path: Path, default: str):
        self._lives: dict[int, list[Life]] = defaultdict(list)
        self._born: dict[int, list[int]] = defaultdict(list)
        self._default = default  # the workload of the lines before the first marker
        self.markers: list[tuple[int, str]] = []
        self.tasks: Counter = Counter()
        self.own_uid: Counter = Counter()
        self.tsync = 0
        events = []
        for record in records(path):
            event = self._event(record)
            if event:
                events.append(event)
        for index, kind, pid, data in sorted(events, key=lambda e: e[:2]):
            self._apply(index, kind, pid, data)

    def _event(self, record: Record) -> tuple[int, int, int, int | str | None] | None:
        """(line, kind, pid, data) for the calls that shape the tree, else ``None``."""
        if record.name in self.FORKS and (child := child_pid(record)):
            return record.line, 0, record.pid, child
        if record.name == "execve" and outcome(record)[0] == "0":
            return record.line, 1, record.pid, record.args[:400]
        if _installs_filter(record):
            self.tsync += "SECCOMP_FILTER_FLAG_TSYNC" in (split_args(record.args, 2) + [""])[1]
            return record.line, 2, record.pid, None
        if MARKER in record.args and (mark := _MARK.search(record.args)):
            return record.line, 3, record.pid, mark[1]
        if record.name in ("setuid", "setresuid") and outcome(record)[0] == "0" \
                and split_args(record.args, 1)[0] not in ("0", "-1"):
            return record.line, 4, record.pid, None
        return None

    def _apply(self, index: int, kind: int, pid: int, data: int | str | None) -> None:
        life = self.life(pid, index)
        if kind == 0 and isinstance(data, int):
            inherited = index if life.filtered(index) else None
            self._add(data, Life(index, life.command, inherited, life.role, life.own_uid))
            if inherited is not None:
                self._count(life, index)
        elif kind == 1:
            life.command = str(data)
        elif kind == 2 and life.filtered_from is None:
            life.filtered_from = index
            life.role = PROBE if "--probe" in life.command else "worker"
            self._count(life, index)
        elif kind == 3 and not life.filtered(index):
            self.markers.append((index, str(data)))
        elif kind == 4:
            life.own_uid = True

    def _count(self, life: Life, index: int) -> None:
        owner = self.owner(life, index)
        self.tasks[owner] += 1
        self.own_uid[owner] += life.own_uid

    def _add(self, pid: int, life: Life) -> None:
        self._lives[pid].append(life)
        self._born[pid].append(life.born)

    def life(self, pid: int, index: int) -> Life:
        """The task ``pid`` was at log line ``index``."""
        position = bisect.bisect_right(self._born[pid], index) - 1
        if position < 0:
            if not self._born[pid] or self._born[pid][0] != -1:
                self._lives[pid].insert(0, Life(-1))
                self._born[pid].insert(0, -1)
            return self._lives[pid][0]
        return self._lives[pid][position]

    def owner(self, life: Life, index: int) -> str:
        """The workload a call of ``life`` at line ``index`` belongs to (``probe`` for the
        isolation probe's)."""
        if life.role == PROBE:
            return PROBE
        position = bisect.bisect_right(self.markers, (index, "\uffff")) - 1
        return self.markers[position][1] if position >= 0 else self._default


def _installs_filter(record: Record) -> bool:
    if outcome(record)[0] != "0":
        return False
    if record.name == "seccomp":
        return record.args.startswith(("SECCOMP_SET_MODE_FILTER", "SECCOMP_SET_MODE_STRICT"))
    return record.name == "prctl" and record.args.startswith("PR_SET_SECCOMP")


# -- what is kept of each call ---------------------------------------------------------------

Picker = Callable[[str], dict[str, str]]


def _positional(label: str, *indexes: int) -> Picker:
    def pick(args: str) -> dict[str, str]:
        parts = split_args(args, max(indexes) + 1)
        values = [parts[i] for i in indexes if i < len(parts)]
        return {label: ", ".join(values)} if values else {}
    return pick


def _keyword(label: str, key: str) -> Picker:
    pattern = re.compile(rf"\b{key}=([^,}}]+)")

    def pick(args: str) -> dict[str, str]:
        match = pattern.search(args)
        return {label: match[1].strip()} if match else {}
    return pick


PICKERS: dict[str, Picker] = {
    "clone": _keyword("flags", "flags"), "clone3": _keyword("flags", "flags"),
    "socket": _positional("domain, type", 0, 1), "socketpair": _positional("domain, type", 0, 1),
    "connect": _keyword("family", "sa_family"), "bind": _keyword("family", "sa_family"),
    "sendto": _keyword("family", "sa_family"),
    "setsockopt": _positional("level, option", 1, 2),
    "getsockopt": _positional("level, option", 1, 2),
    "ioctl": _positional("request", 1), "prctl": _positional("option", 0),
    "arch_prctl": _positional("code", 0),
    "mmap": _positional("prot", 2), "mprotect": _positional("prot", 2),
    "pkey_mprotect": _positional("prot", 2), "mremap": _positional("flags", 3),
    "madvise": _positional("advice", 2),
    "open": _positional("flags", 1), "openat": _positional("flags", 2),
    "openat2": _keyword("flags", "flags"), "fcntl": _positional("command", 1),
    "prlimit64": _positional("resource", 1), "getrlimit": _positional("resource", 0),
    "setrlimit": _positional("resource", 0),
    "execve": _positional("program", 0), "execveat": _positional("program", 1),
    "memfd_create": _positional("name, flags", 0, 1),
    "shmget": _positional("key, size, flags", 0, 1, 2), "shmctl": _positional("command", 1),
    "semget": _positional("key, n, flags", 0, 1, 2), "semctl": _positional("command", 2),
    "msgget": _positional("key, flags", 0, 1),
    "personality": _positional("persona", 0), "seccomp": _positional("operation", 0),
    "unshare": _positional("flags", 0), "setns": _positional("type", 1),
    "membarrier": _positional("command", 0),
    "clock_gettime": _positional("clock", 0), "clock_getres": _positional("clock", 0),
    "clock_nanosleep": _positional("clock, flags", 0, 1), "timer_create": _positional("clock", 0),
    "setitimer": _positional("which", 0), "getrandom": _positional("flags", 2),
    "set_mempolicy": _positional("mode", 0), "mbind": _positional("mode", 2),
    "get_mempolicy": _positional("flags", 4),
    "sched_setscheduler": _positional("policy", 1),
    "pipe2": _positional("flags", 1), "eventfd2": _positional("flags", 1),
    "epoll_create1": _positional("flags", 0), "inotify_init1": _positional("flags", 0),
    "ptrace": _positional("request", 0), "bpf": _positional("command", 0),
    "keyctl": _positional("operation", 0), "io_uring_setup": _positional("entries", 0),
    "userfaultfd": _positional("flags", 0), "kcmp": _positional("type", 2),
    "landlock_create_ruleset": _positional("flags", 2),
}


@dataclass
class Stats:
    """What was seen of one system call: count, notable arguments, failures and examples of
    refused calls."""

    count: int = 0
    args: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    errors: Counter = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, record: Record) -> None:
        self.count += 1
        picker = PICKERS.get(record.name)
        for label, value in (picker(record.args) if picker else {}).items():
            values = self.args[label]
            values[value if value in values or len(values) < MAX_VALUES else "(other)"] += 1
        errno = outcome(record)[1]
        if errno:
            self.errors[errno] += 1
            kept = self.samples[errno]
            if len(kept) < 3 and record.args[:160] not in kept:
                kept.append(record.args[:160])

    def merge(self, other: Stats) -> None:
        self.count += other.count
        for label, values in other.args.items():
            self.args[label].update(values)
        self.errors.update(other.errors)
        for errno, kept in other.samples.items():
            mine = self.samples[errno]
            mine.extend(s for s in kept if s not in mine and len(mine) < 3)

    def to_json(self) -> dict:
        return {"count": self.count, "args": {k: dict(v) for k, v in self.args.items()},
                "errors": dict(self.errors), "failed_examples": dict(self.samples)}

    @classmethod
    def from_json(cls, data: dict) -> Stats:
        stats = cls(data["count"], errors=Counter(data["errors"]))
        for label, values in data["args"].items():
            stats.args[label].update(values)
        for errno, kept in data["failed_examples"].items():
            stats.samples[errno].extend(kept)
        return stats


Calls = dict[str, dict[str, Stats]]  # workload -> syscall -> what was seen


def filtered_calls(path: Path, default: str) -> tuple[Calls, ProcessTree]:
    """Pass two: the calls of filtered tasks by workload (``probe`` for the isolation probe),
    and the process tree (filtered tasks by workload, filters loaded with TSYNC)."""
    tree = ProcessTree(path, default)
    calls: Calls = defaultdict(dict)
    for record in records(path):
        life = tree.life(record.pid, record.line)
        if life.filtered(record.line):
            calls[tree.owner(life, record.line)].setdefault(record.name, Stats()).add(record)
    return calls, tree


# -- running the workloads -------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """One traced grader process: a grade workload, or a batch of library workloads, in one
    mode and warmth."""

    workloads: tuple[Workload, ...]
    mode: str
    warmth: str

    @property
    def variant(self) -> str:
        return f"{self.mode}/{self.warmth}"

    @property
    def label(self) -> str:
        names = self.workloads[0].name if self.workloads[0].grade else "library"
        return f"{names}-{self.mode}-{self.warmth}"


@dataclass
class Run:
    """What one job produced."""

    job: Job
    command: list[str]
    seconds: float
    returncode: int
    outcomes: list[dict]
    calls: Calls
    tasks: Counter
    output_tail: str
    attempts: int = 1
    stable: bool = True  # no own-uid sandbox saw the folders above Python change
    own_uid: Counter = field(default_factory=Counter)  # filtered tasks with their own uid


def plan_jobs(names: list[str], modes: list[str], warmth: list[str]) -> list[Job]:
    """One job per grade workload, and one for all library workloads, per mode and warmth."""
    chosen = [BY_NAME[name] for name in names]
    grades = [w for w in chosen if w.grade]
    library = tuple(w for w in chosen if not w.grade)
    jobs = []
    for mode in modes:
        for warm in warmth:
            jobs += [Job((w,), mode, warm) for w in grades]
            jobs += [Job(library, mode, warm)] if library else []
    return jobs


def run_job(job: Job, options: argparse.Namespace, scratch: Path, strace: str) -> Run:
    """Run ``job`` under strace; read what it did. A run whose sandboxes had uids of their own
    while the folders above Python changed mode is run again (see the module's notes)."""
    trace = scratch / f"{job.label}.strace"
    results = scratch / f"{job.label}.json"
    command = _command(job, options, scratch, results)
    env = _environment(job, options)
    default = job.workloads[0].name if job.workloads[0].grade else "(driver)"
    for attempt in range(1, ATTEMPTS + 1):
        for stale in (results, scratch / f"{job.label}.sqlite"):
            stale.unlink(missing_ok=True)  # a gradebook with a result would skip the grading
        before, started = _python_access(), time.perf_counter()
        returncode, tail = _traced(strace, trace, command, env, options)
        seconds = time.perf_counter() - started
        calls, tree = filtered_calls(trace, default)
        own = sum(n for workload, n in tree.own_uid.items() if workload != PROBE)
        stable = _python_access() == before or not own
        if stable:
            break
        print(f"warning: {job.label}: its sandboxes had uids of their own while another process "
              "changed the folders above Python (they may have lost their way to Python)"
              + ("; running it again" if attempt < ATTEMPTS else ""), file=sys.stderr)
    if tree.tsync:
        print(f"warning: {job.label}: {tree.tsync} filter(s) loaded with TSYNC; sibling threads "
              "were not followed", file=sys.stderr)
    if options.keep_traces:
        Path(options.keep_traces).mkdir(parents=True, exist_ok=True)
        shutil.copy(trace, Path(options.keep_traces) / trace.name)
    trace.unlink()
    return Run(job, command, seconds, returncode, _outcomes(job, results), calls, tree.tasks,
               tail, attempt, stable, tree.own_uid)


def _python_access() -> list[tuple[int, int]]:
    """The modes and change times of the folders above the Python installations: whether the
    sandbox's own uid can reach Python (the uid layer) depends on them, and tests on a shared
    machine open them for a while."""
    folders = {parent for root in (sys.prefix, sys.base_prefix, str(REPO))
               for parent in Path(root).resolve().parents}
    return [(info.st_mode, info.st_ctime_ns) for info in (f.stat() for f in sorted(folders))]


def _command(job: Job, options: argparse.Namespace, scratch: Path, results: Path) -> list[str]:
    workload = job.workloads[0]
    if workload.grade:
        assignment, *submissions = workload.grade
        return [sys.executable, "-m", "grader.cli", "grade", assignment, *submissions,
                "--db", str(scratch / f"{job.label}.sqlite"), "--json", str(results),
                "-j", "1", "-q"]
    module_dir = scratch / "submission"
    module_dir.mkdir(exist_ok=True)
    (module_dir / f"{MODULE}.py").write_text(LIBRARY_SOURCE)
    return [sys.executable, str(Path(__file__).resolve()), "--repo", str(options.repo),
            "--inner", ",".join(w.name for w in job.workloads), "--module-dir", str(module_dir),
            "--result", str(results)]


def _environment(job: Job, options: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GRADER_DISABLE_LAYERS", "GRADER_NO_BWRAP", "GRADER_WARM")}
    env.update(MODES[job.mode], **WARMTH[job.warmth], GRADER_THREADS=str(options.threads),
               PYTHONPATH=str(options.repo))
    data = options.data if all(w.course_data for w in job.workloads) else Path(os.devnull)
    if data:
        env["GRADER_DATA"] = str(data)
    return env


def _traced(strace: str, trace: Path, command: list[str], env: dict[str, str],
            options: argparse.Namespace) -> tuple[int, str]:
    """Run ``command`` under strace in its own session; kill that session past the limit."""
    argv = [strace, *STRACE_ARGS, "-o", str(trace), "--", *command]
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(argv, cwd=options.repo, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode = process.wait(timeout=options.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            returncode = process.wait()
        output.seek(0)
        return returncode, output.read()[-3000:]


def _outcomes(job: Job, results: Path) -> list[dict]:
    try:
        data = json.loads(results.read_text())
    except (OSError, ValueError):
        return [{"workload": w.name, "status": "no result"} for w in job.workloads]
    if not job.workloads[0].grade:
        return data
    return [_grade_outcome(job.workloads[0].name, data)]


def _grade_outcome(name: str, results: list[dict]) -> dict:
    """A grade run in one line: submissions, check statuses, and the errors (not expected ones)."""
    statuses = Counter(check["status"] for result in results for check in result["checks"])
    errors = sorted({check["message"][:300] for result in results for check in result["checks"]
                     if check["status"] in ("error", "timeout", "crashed")
                     and "needs to be implemented" not in check["message"]})
    sandbox = {f"{r.get('sandbox')}{' warm' if r.get('warm') else ' cold'}" for r in results}
    value = f"{len(results)} submission(s), {dict(statuses)}, sandbox {', '.join(sorted(sandbox))}"
    layers = sorted({layer for result in results for layer in result.get("isolation", [])})
    return {"workload": name, "status": "graded", "value": value, "errors": errors[:4],
            "layers": layers}


# -- inside the traced process: the library driver -------------------------------------------

def drive_library(names: list[str], module_dir: Path, result: Path, repo: Path) -> int:
    """Call each library workload in a fresh sandbox, a marker before each; write outcomes."""
    from grader.sandbox import SandboxSession, mounts

    outcomes = []
    for name in names:
        workload = BY_NAME[name]
        os.path.exists(MARKER + name)  # the marker: a stat the trace shows
        started = time.perf_counter()
        with SandboxSession(module_dir, limits=mounts.Limits(memory_mb=8192),
                            interpreter=_interpreter(workload.environment, repo),
                            preload=workload.preload, import_timeout_s=120) as session:
            call = session.call(MODULE, name, [], workload.timeout_s)
            outcomes.append({"workload": name, "status": call.status,
                             "seconds": round(time.perf_counter() - started, 2),
                             "value": call.outputs[0] if call.outputs else None,
                             "error": call.error, "traceback": call.traceback[-1500:],
                             "stdout": call.stdout[-1500:], "warm": session.warm,
                             "layers": list(session.layers)})
    os.path.exists(MARKER + END)
    result.write_text(json.dumps(outcomes, default=str))
    return 0


def _interpreter(name: str | None, repo: Path):
    from grader.rubric import environments
    from grader.sandbox import mounts

    if name is None:
        return mounts.Interpreter()
    spec, _ = environments.load(repo / "assignments" / "environments", name)
    built = environments.built(spec)
    if built is None:
        raise SystemExit(f"the course environment {name} is not built: grader env build {name}")
    return mounts.Interpreter(str(built.python), str(built.root))


# -- the report ------------------------------------------------------------------------------

@dataclass
class Seen:
    """One system call across every run: in all, by workload, and the variants (mode/warmth)
    in which each workload made it, and had it refused."""

    total: Stats = field(default_factory=Stats)
    by_workload: dict[str, Stats] = field(default_factory=lambda: defaultdict(Stats))
    users: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    refused_in: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def combine(runs: list[Run]) -> tuple[dict[str, Seen], dict[str, set[str]]]:
    """Every system call seen, and the variants each workload ran in."""
    seen: dict[str, Seen] = defaultdict(Seen)
    ran: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        for workload in [w.name for w in run.job.workloads] + [PROBE]:
            ran[workload].add(run.job.variant)
        for workload, calls in run.calls.items():
            for name, stats in calls.items():
                entry = seen[name]
                entry.total.merge(stats)
                entry.by_workload[workload].merge(stats)
                entry.users[workload].add(run.job.variant)
                if any(stats.errors[errno] for errno in REFUSALS):
                    entry.refused_in[workload].add(run.job.variant)
    return seen, ran


def qualified(workload: str, used: set[str], ran: set[str]) -> str:
    """``workload`` when all its variants made the call; else ``workload[nobwrap]`` (only in
    that mode), ``workload[cold]`` (only cold), ``workload[-nobwrap/warm]`` (in all but that
    variant) or ``workload[bwrap/cold,nobwrap/cold]``."""
    if used >= ran:
        return workload
    for part in (0, 1):
        for value in {v.split("/")[part] for v in ran}:
            if used == {v for v in ran if v.split("/")[part] == value}:
                return f"{workload}[{value}]"
    if len(ran - used) == 1:
        return f"{workload}[-{next(iter(ran - used))}]"
    return f"{workload}[{','.join(sorted(used))}]"


def users_text(entry: Seen, ran: dict[str, set[str]]) -> str:
    """Which workloads made a call: their names, or ``all; not a, b; partly c[cold]`` when
    most did."""
    full = [w for w in sorted(entry.users) if entry.users[w] >= ran[w]]
    partly = [qualified(w, entry.users[w], ran[w]) for w in sorted(entry.users) if w not in full]
    if len(full) <= len(ran) / 2:
        return ", ".join(full + partly)
    absent = sorted(set(ran) - set(entry.users))
    return "; ".join(["all"] + ([f"not {', '.join(absent)}"] if absent else [])
                     + ([f"partly {', '.join(partly)}"] if partly else []))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def args_text(stats: Stats, most: int = 6) -> str:
    parts = []
    for label, values in sorted(stats.args.items()):
        top = ", ".join(f"{v} ({n})" for v, n in values.most_common(most))
        more = f", +{len(values) - most} more" if len(values) > most else ""
        parts.append(f"{label}: {top}{more}")
    return "; ".join(parts)


def call_table(seen: dict[str, Seen], ran: dict[str, set[str]]) -> list[str]:
    lines = ["| syscall | workloads | count | notable arguments | failures (errno: count) |",
             "|---|---|---:|---|---|"]
    for name in sorted(seen):
        entry = seen[name]
        failures = ", ".join(f"{e}: {n}" for e, n in entry.total.errors.most_common())
        lines.append(f"| {name} | {_cell(users_text(entry, ran))} | {entry.total.count} | "
                     f"{_cell(args_text(entry.total))} | {failures} |")
    return lines


class DenyList:
    """The repository's seccomp rules, to say which refusals are the filter's: its allowlist
    (``grader/sandbox/syscalls.yaml``) where it has one, else its older deny-list."""

    def __init__(self, repo: Path):
        self.allowlist = _allowlist(repo / "grader/sandbox/syscalls.yaml")
        path = repo / "grader/worker/confine/seccomp.py"
        spec = importlib.util.spec_from_file_location("_traced_seccomp", path)
        module = None
        if spec is not None and spec.loader is not None:
            try:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            except (OSError, ImportError, SyntaxError, AttributeError):
                module = None
        self.denied = set(getattr(module, "DENIED", ()))
        self.not_implemented = set(getattr(module, "NOT_IMPLEMENTED", ()))

    def source(self, name: str, errno: str, examples: list[str]) -> str:
        """Who refused: the filter, Landlock, or the kernel (a best guess from the errno)."""
        if self.allowlist is not None and errno in ("EPERM", "ENOSYS"):
            allowed, conditional = self.allowlist
            if name not in allowed:
                return "seccomp allowlist (not listed)"
            if name in conditional:
                return "seccomp allowlist (an argument it does not allow) or kernel"
        if errno == "EPERM" and name in self.denied:
            return "seccomp deny-list"
        if errno == "ENOSYS" and name in self.not_implemented:
            return "seccomp (ENOSYS)"
        if errno == "EACCES" and name == "socket":
            return "seccomp (socket)"
        if errno == "EPERM" and name == "clone" and any("CLONE_NEW" in e for e in examples):
            return "seccomp (namespace flag)"
        if errno == "EPERM" and name in ("kill", "tgkill", "tkill", "pidfd_open"):
            return "seccomp (protected pid) or kernel"
        if errno == "EACCES":
            return "Landlock or file mode"
        return "kernel / not the filter"


def _allowlist(path: Path) -> tuple[set[str], set[str]] | None:
    """(allowed names, those allowed for some arguments only) of an allowlist file."""
    if not path.is_file():
        return None
    import yaml

    groups = yaml.safe_load(path.read_text())["groups"]
    calls = {name: value for group in groups.values() for name, value in group.items()}
    return set(calls), {name for name, value in calls.items()
                        if isinstance(value, dict) and value.get("when")}


def refusal_list(seen: dict[str, Seen], ran: dict[str, set[str]], deny: DenyList) -> list[str]:
    """One line per workload: each call refused with EPERM, EACCES or ENOSYS, how often, in
    which variants (none named: all it ran in), by whom, and an example of its arguments."""
    lines = []
    for workload in sorted(ran):
        refused = []
        for name in sorted(n for n in seen if workload in seen[n].by_workload):
            stats = seen[name].by_workload[workload]
            for errno in [e for e in REFUSALS if stats.errors[e]]:
                examples = stats.samples.get(errno, [])
                where = qualified("", seen[name].refused_in[workload], ran[workload])
                example = f"; e.g. `{examples[0][:110]}`" if examples else ""
                refused.append(f"{name} {errno}×{stats.errors[errno]}{where} "
                               f"({deny.source(name, errno, examples)}{example})")
        lines.append(f"- **{workload}**: " + ("; ".join(refused) if refused else "none"))
    return lines


def outcome_table(runs: list[Run]) -> list[str]:
    lines = ["| workload | variant | status | s | filtered tasks | uid layer | result |",
             "|---|---|---|---:|---:|---|---|"]
    for run in runs:
        for item in run.outcomes:
            text = str(item.get("value") or item.get("error") or "")
            if item.get("errors"):
                text += " — errors: " + " / ".join(item["errors"])
            if (last := _last_exception(item.get("stdout", ""))):
                text += f" — worker output: {last}"
            seconds = item.get("seconds", round(run.seconds, 1))
            uid = "yes" if run.own_uid[item["workload"]] else "no"
            lines.append(f"| {item['workload']} | {run.job.variant} | {item['status']} | "
                         f"{seconds} | {run.tasks[item['workload']]} | {uid} | "
                         f"{_cell(text[:700])} |")
    return lines


def _last_exception(output: str) -> str:
    """The last ``SomeError: message`` line of a worker's captured output, if any."""
    found = re.findall(r"^(\w+(?:Error|Exception|Exit)\b.*)$", output, re.MULTILINE)
    return found[-1][:200] if found else ""


def allow_list(seen: dict[str, Seen]) -> list[str]:
    succeeded = sorted(n for n, e in seen.items() if e.total.count > sum(e.total.errors.values()))
    failed = sorted(n for n in seen if n not in succeeded)
    return [f"Succeeded at least once ({len(succeeded)}): {', '.join(succeeded)}",
            "", f"Only ever failed ({len(failed)}): " + ", ".join(
                f"{n} ({', '.join(seen[n].total.errors)})" for n in failed)]


def report(runs: list[Run], repo: Path) -> str:
    seen, ran = combine(runs)
    jobs = [f"- `{r.job.label}`: {r.seconds:.0f} s, exit {r.returncode}"
            + (f", attempt {r.attempts}" if r.attempts > 1 else "")
            + ("" if r.stable else " (UNSTABLE: its sandboxes had their own uids while the "
                                     "folders above Python changed)")
            for r in runs]
    sections = [
        "## Runs", *jobs, "", "## Outcomes", *outcome_table(runs), "",
        f"## System calls of filtered tasks ({len(seen)})", *call_table(seen, ran), "",
        "## Refused (EPERM / EACCES / ENOSYS) per workload",
        *refusal_list(seen, ran, DenyList(repo)), "", "## Names seen", *allow_list(seen)]
    return "\n".join(sections) + "\n"


def to_json(runs: list[Run], repo: Path) -> dict:
    seen, _ = combine(runs)
    summary = {name: {"workloads": {w: sorted(v) for w, v in sorted(e.users.items())},
                      **e.total.to_json()} for name, e in sorted(seen.items())}
    return {"summary": summary,
            "meta": {"kernel": platform.release(), "repo": str(repo), "commit": _commit(repo),
                     "strace_args": STRACE_ARGS, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
            "runs": [{"job": r.job.label, "workloads": [w.name for w in r.job.workloads],
                      "mode": r.job.mode, "warmth": r.job.warmth, "command": r.command,
                      "seconds": round(r.seconds, 1), "returncode": r.returncode,
                      "outcomes": r.outcomes, "filtered_tasks": dict(r.tasks),
                      "own_uid_tasks": dict(r.own_uid),
                      "output_tail": r.output_tail, "attempts": r.attempts, "stable": r.stable,
                      "calls": {w: {n: s.to_json() for n, s in sorted(c.items())}
                                for w, c in sorted(r.calls.items())}} for r in runs]}


def from_json(data: dict) -> list[Run]:
    """The runs a ``--json`` file holds (to print their report again)."""
    return [Run(Job(tuple(BY_NAME[name] for name in run["workloads"]), run["mode"], run["warmth"]),
                run["command"], run["seconds"], run["returncode"], run["outcomes"],
                {w: {n: Stats.from_json(s) for n, s in calls.items()}
                 for w, calls in run["calls"].items()},
                Counter(run["filtered_tasks"]), run["output_tail"], run.get("attempts", 1),
                run.get("stable", True), Counter(run.get("own_uid_tasks", {})))
            for run in data["runs"]]


def _commit(repo: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    return done.stdout.strip() or None


# -- command line ----------------------------------------------------------------------------

def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default="all",
                        help="comma-separated names, or all / grade / library (--list shows them)")
    parser.add_argument("--modes", default="bwrap,nobwrap", help="bwrap, nobwrap")
    parser.add_argument("--warmth", default="warm,cold", help="warm, cold")
    parser.add_argument("--json", type=Path, help="write the raw result here")
    parser.add_argument("--keep-traces", type=Path, help="copy strace's logs to this folder")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to trace")
    parser.add_argument("--data", type=Path, help="GRADER_DATA (default: ../shared/data)")
    parser.add_argument("--threads", type=int, default=2, help="GRADER_THREADS")
    parser.add_argument("--timeout-s", type=float, default=1800, help="wall limit of one job")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument("--report-from", type=Path, metavar="JSON",
                        help="print the report of an earlier --json file, tracing nothing")
    for hidden in ("--inner", "--module-dir", "--result"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    options.repo = options.repo.resolve()
    default_data = options.repo.parent / "shared" / "data"
    if options.data is None and not os.environ.get("GRADER_DATA") and default_data.is_dir():
        options.data = default_data
    for name, known in (("modes", MODES), ("warmth", WARMTH)):
        values = getattr(options, name).split(",")
        if not set(values) <= set(known):
            parser.error(f"--{name} takes {', '.join(known)}")
        setattr(options, name, values)
    return options


def selected(text: str) -> list[str]:
    """The workload names ``--workloads`` names (``all``, ``grade`` and ``library`` expanded)."""
    groups = {"all": [w.name for w in WORKLOADS], "grade": [w.name for w in WORKLOADS if w.grade],
              "library": [w.name for w in WORKLOADS if not w.grade]}
    names = [name for part in text.split(",") if part.strip()
             for name in groups.get(part.strip(), [part.strip()])]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown workload(s) {', '.join(unknown)}; --list shows them")
    return list(dict.fromkeys(names))


def main(argv: list[str]) -> int:
    options = parse(argv)
    if options.inner:
        sys.path.insert(0, str(options.repo))
        return drive_library(options.inner.split(","), Path(options.module_dir),
                             Path(options.result), options.repo)
    if options.list:
        print("\n".join(f"{w.name:18} {w.about}" for w in WORKLOADS))
        return 0
    if options.report_from:
        data = json.loads(options.report_from.read_text())
        print(report(from_json(data), Path(data["meta"]["repo"])))
        return 0
    strace = shutil.which("strace")
    if strace is None:
        raise SystemExit("strace is not installed (apt-get install strace)")
    jobs = plan_jobs(selected(options.workloads), options.modes, options.warmth)
    runs = []
    with tempfile.TemporaryDirectory(prefix="trace-syscalls-") as scratch:
        for number, job in enumerate(jobs, 1):
            print(f"[{number}/{len(jobs)}] {job.label} ...", file=sys.stderr, flush=True)
            runs.append(run_job(job, options, Path(scratch), strace))
            print(f"    {runs[-1].seconds:.0f} s, exit {runs[-1].returncode}", file=sys.stderr)
    print(report(runs, options.repo))
    if options.json:
        options.json.write_text(json.dumps(to_json(runs, options.repo), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
