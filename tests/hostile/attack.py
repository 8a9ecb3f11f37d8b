"""What the hostile submissions share: where the grader's processes are, and the payoff.

tests/test_hostile.py copies this file, as ``attack.py``, beside the ``student_code.py`` of
every submission whose verdict says ``attack_kit: true``. Each such attack returns the right
answers only when it worked (``graded_if``), and zeros otherwise, so a sandbox that lets it
through hands it every point and the verdict's zero means something.
"""

from __future__ import annotations

import os

import numpy as np


def graded_if(worked):
    """``my_imfilter`` and ``create_hybrid_image`` that are right exactly when ``worked()``."""

    def my_imfilter(image, filter):
        return correct_filter(image, filter) if worked() else np.zeros_like(image)

    def create_hybrid_image(image1, image2, filter):
        if not worked():
            zeros = np.zeros_like(image1)
            return zeros, zeros, zeros
        low = correct_filter(image1, filter)
        high = image2 - correct_filter(image2, filter)
        return low, high, np.clip(low + high, 0.0, 1.0)

    return my_imfilter, create_hybrid_image


def zeros_after(action):
    """``my_imfilter`` and ``create_hybrid_image`` that run ``action()``, then return zeros."""

    def my_imfilter(image, filter):
        action()
        return np.zeros_like(image)

    def create_hybrid_image(image1, image2, filter):
        action()
        zeros = np.zeros_like(image1)
        return zeros, zeros, zeros

    return my_imfilter, create_hybrid_image


def replaying(stored):
    """Functions that return arrays of ``stored(shape)`` (stolen outputs of that shape) of the
    right shape: one for the filter, the last three for the hybrid; zeros when nothing fits.
    Each shape is looked up once per worker (the stolen files do not change)."""
    remembered = {}

    def of_shape(shape):
        shape = tuple(shape)
        if shape not in remembered:
            remembered[shape] = [a for a in stored(shape) if a.shape == shape
                                 and a.dtype.kind == "f" and a.any()]
        return remembered[shape]

    def my_imfilter(image, filter):
        found = of_shape(np.shape(image))
        return _likeliest(found, image, filter) if found else np.zeros_like(image)

    def create_hybrid_image(image1, image2, filter):
        found = of_shape(np.shape(image1))
        zeros = np.zeros_like(image1)
        return tuple(found[-3:]) if len(found) >= 3 else (zeros, zeros, zeros)

    return my_imfilter, create_hybrid_image


def _likeliest(candidates, image, filter):
    """The stolen output whose centre pixel is the correlation there (one pixel, computed
    directly): when several cached outputs have the image's shape, the right one."""
    image, kernel = np.asarray(image, dtype=np.float64), np.asarray(filter, dtype=np.float64)
    k, l = kernel.shape
    i, j = image.shape[0] // 2, image.shape[1] // 2
    window = image[i - k // 2:i + k // 2 + 1, j - l // 2:j + l // 2 + 1]
    centre = np.tensordot(kernel, window, axes=([0, 1], [0, 1]))
    return min(candidates, key=lambda a: float(np.abs(a[i, j] - centre).sum()))


def correct_filter(image, filter):
    """Correlation with reflect padding (what the reference computes on the interior)."""
    image = np.asarray(image)
    kernel = np.asarray(filter, dtype=np.float64)
    planes = image[:, :, None] if image.ndim == 2 else image
    rows, cols = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(planes.astype(np.float64), ((rows, rows), (cols, cols), (0, 0)), mode="reflect")
    height, width = planes.shape[:2]
    out = np.zeros(planes.shape, dtype=np.float64)
    for u in range(kernel.shape[0]):
        for v in range(kernel.shape[1]):
            out += kernel[u, v] * padded[u:u + height, v:v + width]
    return out.reshape(image.shape).astype(image.dtype if image.dtype == np.float32 else np.float64)


def ancestors(limit: int = 16) -> list[int]:
    """PIDs above this process, nearest first, as far as /proc shows them."""
    found, pid = [], os.getpid()
    for _ in range(limit):
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read()
            pid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if pid <= 1:
            break
        found.append(pid)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def environ(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            items = handle.read().decode(errors="replace").split("\0")
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in items if "=" in item)


def grader_option(flag: str) -> str | None:
    """The value of ``flag`` (``--db``, ``--json``) on a grader command line above us."""
    for pid in ancestors():
        argv = cmdline(pid)
        if flag in argv[:-1]:
            return argv[argv.index(flag) + 1]
    return None


def grader_setting(name: str) -> list[str]:
    """Values of the environment variable ``name`` in the processes above us."""
    return [env[name] for env in map(environ, ancestors()) if name in env]


# --- what one sandbox leaves for the next of the same slot (the warm_* sequence) ----------

WARM_PLANT = "grader_hostile_warm_plant"  # a file left for the next students
WARM_STOLEN = "grader_hostile_warm_stolen"  # a later submission's code, copied out
VICTIM_MARK = "GRADER_HOSTILE_VICTIM_SOURCE"  # in warm_2_victim's source, for the thief


def shared_places() -> list[str]:
    """Every folder one sandbox might share with the next: /tmp, /dev/shm, /var/tmp, its
    home (the scratch folder) and the two folders above it, and the two above its own code
    (its workspace and a warm worker's slot, which every sandbox of the slot may read)."""
    home = os.environ.get("HOME", "/")
    above = os.path.dirname(home.rstrip("/"))
    workspace = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return list(dict.fromkeys(["/tmp", "/dev/shm", "/var/tmp", home, above,
                               os.path.dirname(above), workspace, os.path.dirname(workspace)]))


def leave(name: str, text: str) -> None:
    """Write ``text`` to a file ``name`` in every shared place that lets us."""
    for folder in shared_places():
        try:
            with open(os.path.join(folder, name), "w") as handle:
                handle.write(text)
        except OSError:
            continue


def left(name: str) -> list[str]:
    """What a file ``name`` in the shared places holds, wherever one is there to read."""
    found = []
    for folder in shared_places():
        try:
            with open(os.path.join(folder, name)) as handle:
                found.append(handle.read())
        except OSError:
            continue
    return found


# --- what one sandbox leaves in a course environment (the env_* sequence) ------------------

ENV_PLANT = "grader_hostile_env_plant"  # a .pth and a module in the environment's site-packages


def environment_packages() -> str:
    """The site-packages folder of the interpreter this runs in: the course environment's."""
    import sysconfig

    return sysconfig.get_path("purelib")
