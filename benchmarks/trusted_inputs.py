"""What a hostile submission costs the trusted side before any of its code runs: before and after
the caps and linear algorithms of issue 26, item 7.

Prints a Markdown table: for each hostile input, the step of the harness that reads it (lifting
a notebook, extracting an archive, copying a folder, the forbidden-call scan, the similarity
report's tokenising), its seconds, the memory it added to its process (the peak resident set
after minus before, MiB) and how it ended, in the harness as it was (``--before``, a git
revision: that step's module is read from git) and as it is. Each step runs in a fresh
interpreter, stopped after ``--limit`` seconds. The inputs are built once, in a temporary folder.

Run: ``python benchmarks/trusted_inputs.py [--before REV] [--limit S] [--only WORD]``.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import io
import json
import os
import re
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
import types
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE = "5f5aeaf"  # the harness before issue 26, item 7
EXAMPLE = REPO / "assignments" / "proj1_filtering" / "examples" / "alice_correct" / "student_code.py"



# --- the hostile inputs (each builder writes one into a folder and returns its path) -----------

def notebook(cells: list[str], outputs: int = 0) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        stream = {"output_type": "stream", "name": "stdout", "text": "x\n"}
        document = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                               "source": source, "outputs": [stream] * outputs}
                              for source in cells],
                    "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
        path = folder / "student.ipynb"
        path.write_text(json.dumps(document))
        return path
    return build


def one_line_definitions(count: int) -> str:
    return "\n".join(f"def f{i}(x): return x + {i}" for i in range(count))


def text_file(text: Callable[[], str], name: str = "student_code.py") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        (folder / name).write_text(text())
        return folder / name
    return build


def ordinary_code(size: int) -> str:
    """The example solution repeated, its functions renamed apart, to ``size`` characters."""
    example = EXAMPLE.read_text()
    parts, index = [], 0
    while sum(map(len, parts)) < size:
        parts.append(re.sub(r"def (\w+)", rf"def \1_{index}", example))
        index += 1
    return "".join(parts)


def zip_of_empty_members(count: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        with zipfile.ZipFile(folder / "many.zip", "w", zipfile.ZIP_STORED) as bundle:
            for index in range(count):
                bundle.writestr(str(index), b"")
        return folder / "many.zip"
    return build


def tar_of_empty_members(count: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        with tarfile.open(folder / "many.tar", "w") as bundle:
            for index in range(count):
                bundle.addfile(tarfile.TarInfo(str(index)), io.BytesIO(b""))
        return folder / "many.tar"
    return build


def tar_gz_claiming_zeros(gib: int) -> Callable[[Path], Path]:
    """A .tar.gz whose one member is ``gib`` GiB of zeros: gzip members of 64 MiB of zeros,
    repeated (gzip readers read concatenated members as one stream), a few MiB on disk."""
    def build(folder: Path) -> Path:
        header = tarfile.TarInfo("zeros.bin")
        header.size = gib << 30
        block = gzip.compress(bytes(64 << 20), compresslevel=9)
        path = folder / "bomb.tar.gz"
        with path.open("wb") as out:
            out.write(gzip.compress(header.tobuf(tarfile.GNU_FORMAT)))
            for _ in range(header.size // (64 << 20)):
                out.write(block)
            out.write(gzip.compress(bytes(1024)))  # the end-of-archive blocks
        return path
    return build


def nested_folder(depth: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        top = current = folder / "deep"
        top.mkdir()
        for _ in range(depth):  # not mkdir(parents=True): it recurses once per level
            current = current / "d"
            current.mkdir()
        (top / "student_code.py").write_text("X = 1\n")
        return top
    return build


def folder_of_files(count: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        top = folder / "wide"
        (top / "data").mkdir(parents=True)
        for index in range(count):
            (top / "data" / f"{index}.txt").write_bytes(b"")
        return top
    return build


# --- the steps that read them ----------------------------------------------------------------

# each takes the grader module it exercises (as it is, or as it was), the input and a scratch
# folder, and says in a few words what it did

def lift(ipynb: types.ModuleType, path: Path, scratch: Path) -> str:
    return f"{len(ipynb.lift(path).cells)} definitions"


def extract(archive: types.ModuleType, path: Path, scratch: Path) -> str:
    archive.extract(path, scratch)
    return "extracted"


def copy_folder(archive: types.ModuleType, path: Path, scratch: Path) -> str:
    archive.copy_tree_safely(path, scratch)
    return "copied"


def scan(source_rules: types.ModuleType, path: Path, scratch: Path) -> str:
    calls = source_rules.forbidden_calls(path.read_text(), "my_imfilter", ["cv2.*"])
    return f"{len(calls)} forbidden calls"


def rename(similarity: types.ModuleType, path: Path, scratch: Path) -> str:
    return f"{len(similarity.one_name(path.read_text()))} characters"


def compare(similarity: types.ModuleType, path: Path, scratch: Path) -> str:
    text = path.read_text()
    (pair,) = similarity.compare({"a": text, "b": text.replace("image", "img")})
    return f"score {pair.score:.2f}"


STEPS = {lift: "ipynb", extract: "archive", copy_folder: "archive", scan: "source_rules",
         rename: "similarity", compare: "similarity"}  # the module of grader/ each one reads
LAZY = {"ipynb": "nbformat", "similarity": "copydetect"}  # what those import on first use


@dataclass(frozen=True)
class Case:
    """One row: a hostile input and the step that reads it."""

    name: str
    build: Callable[[Path], Path]
    step: Callable[[types.ModuleType, Path, Path], str]


CASES = [
    Case("notebook, 3 000 one-line definitions in a cell: lift",
         notebook([one_line_definitions(3_000)]), lift),
    Case("notebook, 20 000 one-line definitions in a cell: lift",
         notebook([one_line_definitions(20_000)]), lift),
    Case("notebook, 20 000 one-definition cells: lift",
         notebook(one_line_definitions(20_000).split("\n")), lift),
    Case("notebook, 100 000 outputs: lift", notebook(["def f():\n    return 1"], 100_000), lift),
    Case("source, a sum of 100 000 terms (too deep to parse): scan",
         text_file(lambda: "x = " + "+".join(["a"] * 100_000) + "\n"), scan),
    Case("source, 1 MiB of ordinary functions: scan", text_file(lambda: ordinary_code(1 << 20)),
         scan),
    Case("zip, 300 000 empty members: extract", zip_of_empty_members(300_000), extract),
    Case("tar, 200 000 empty members: extract", tar_of_empty_members(200_000), extract),
    Case("tar.gz, one member of 16 GiB of zeros: extract", tar_gz_claiming_zeros(16), extract),
    Case("folder, nested 1 500 deep: copy", nested_folder(1_500), copy_folder),
    Case("folder, 50 000 files: copy", folder_of_files(50_000), copy_folder),
    Case("similarity, one line of 200 000 names: rename",
         text_file(lambda: "x = [" + ",".join(f"n{i}" for i in range(200_000)) + "]\n"), rename),
    Case("similarity, two 1 MiB sources: fingerprint and compare",
         text_file(lambda: ordinary_code(1 << 20)), compare),
]


# --- running one step in a fresh interpreter ---------------------------------------------------

def module(name: str, revision: str | None) -> types.ModuleType:
    """``grader.<name>`` as it is (``revision`` None) or as it was at ``revision``, read from
    git (its own imports of grader/ are today's)."""
    if revision is None:
        return importlib.import_module(f"grader.{name}")
    source = subprocess.run(["git", "show", f"{revision}:grader/{name}.py"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    loaded = sys.modules[f"before_{name}"] = types.ModuleType(f"before_{name}")  # dataclasses
    exec(compile(source, f"{revision}:grader/{name}.py", "exec"), loaded.__dict__)
    return loaded


def run_one(case: Case, revision: str | None, path: Path) -> dict:
    """Run ``case``'s step on ``path`` here; its seconds, added peak MiB and outcome."""
    grader = module(STEPS[case.step], revision)  # imported before the clock starts,
    if STEPS[case.step] in LAZY:  # with what it imports on first use
        importlib.import_module(LAZY[STEPS[case.step]])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        try:
            outcome = case.step(grader, path, Path(scratch))
        except Exception as exc:  # noqa: BLE001 - how it ended is what the table shows
            outcome = f"{type(exc).__name__}: {str(exc)[:70]}"
    seconds = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return {"seconds": seconds, "mib": grown, "outcome": outcome}


def measure(index: int, revision: str | None, path: Path, limit: float) -> dict:
    """:func:`run_one` in a fresh interpreter, stopped after ``limit`` seconds."""
    command = [sys.executable, __file__, "--run", str(index), "--path", str(path)]
    if revision:
        command += ["--revision", revision]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "mib": None, "outcome": f"stopped after {limit:g} s"}
    if done.returncode != 0:
        return {"seconds": None, "mib": None, "outcome": done.stderr.strip().splitlines()[-1][:90]}
    return json.loads(done.stdout)


def cell(result: dict) -> str:
    if result["seconds"] is None:
        return f"— | — | {result['outcome']}"
    return f"{result['seconds']:.2f} | {result['mib']:.0f} | {result['outcome']}"


def remove(folder: Path) -> None:
    """Remove ``folder`` bottom-up without recursion (``shutil.rmtree`` of Python 3.11 recurses
    once per level, and one input is nested 1 500 deep)."""
    stack, order = [folder], []
    while stack:
        current = stack.pop()
        order.append(current)
        for entry in os.scandir(current):
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            else:
                os.unlink(entry.path)
    for current in reversed(order):
        os.rmdir(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help="git revision of the harness before")
    parser.add_argument("--limit", type=float, default=120.0,
                        help="seconds before a step is stopped")
    parser.add_argument("--only", default="", help="run the cases whose name has this word")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--revision", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run is not None:
        print(json.dumps(run_one(CASES[args.run], args.revision, args.path)))
        return
    work = Path(tempfile.mkdtemp(prefix="trusted-inputs-"))
    try:
        print(f"| input: step | before ({args.before}) s | MiB | outcome "
              "| after s | MiB | outcome |")
        print("|---|---:|---:|---|---:|---:|---|")
        for index, case in enumerate(CASES):
            if args.only not in case.name:
                continue
            folder = work / str(index)
            folder.mkdir()
            path = case.build(folder)
            before, after = (measure(index, rev, path, args.limit) for rev in (args.before, None))
            print(f"| {case.name} | {cell(before)} | {cell(after)} |", flush=True)
            remove(folder)
    finally:
        remove(work)


if __name__ == "__main__":
    main()
