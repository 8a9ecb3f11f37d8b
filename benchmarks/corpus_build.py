"""Materialise the real-code corpus (``benchmarks/corpus.yaml``) into a folder you name.

The student code's licences are unclear, so it never enters this repository: like the course
data it lives in a folder outside it. Each manifest entry becomes
``OUT/<assignment>/<student>/`` holding the files the rubric's modules expect, read with
``git show COMMIT:PATH`` from a git directory:

- ``--mirror DIR``: bare copies already on disk, at ``DIR/<owner>+<name>/repo`` (the layout
  of the project's fetch tool) or ``DIR/<owner>+<name>.git``;
- otherwise (or where a mirror lacks the repository) ``git clone --bare`` of
  ``https://github.com/<owner>/<name>`` into ``OUT/.git-cache/`` (needs internet).

Run: ``python benchmarks/corpus_build.py --out /work/corpus --mirror /work/.mirror``
(``--out`` defaults to ``$GRADER_CORPUS``). ``OUT/corpus.json`` records what was written.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().with_name("corpus.yaml")


class CorpusError(Exception):
    """A manifest entry that cannot be materialised (one sentence, no traceback)."""


def load_manifest(path: Path = MANIFEST) -> list[dict]:
    """The manifest's entries, each checked for the fields the builder needs."""
    entries = yaml.safe_load(path.read_text())["entries"]
    for entry in entries:
        missing = {"student", "repo", "commit", "assignment", "files"} - set(entry)
        if missing:
            raise CorpusError(f"{path}: entry {entry.get('student')!r} lacks {sorted(missing)}")
        if len(entry["commit"]) != 40:
            raise CorpusError(f"{path}: entry {entry['student']!r} must pin a full 40-digit commit")
    return entries


def _git(git_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True)


def _has_commit(git_dir: Path, commit: str) -> bool:
    found = _git(git_dir, "cat-file", "-e", f"{commit}^{{commit}}") if git_dir.is_dir() else None
    return found is not None and found.returncode == 0


def mirror_candidates(mirror: Path, repo: str) -> list[Path]:
    """Where a bare copy of ``owner/name`` may sit under ``mirror``."""
    base = mirror / repo.replace("/", "+")
    return [base / "repo", base / "repo" / ".git", base.with_name(base.name + ".git"), base]


def git_dir_for(entry: dict, mirror: Path | None, cache: Path, clone: bool) -> Path:
    """A git directory holding the entry's commit: a mirror's, or a fresh bare clone."""
    if mirror is not None:
        for candidate in mirror_candidates(mirror, entry["repo"]):
            if _has_commit(candidate, entry["commit"]):
                return candidate
    target = cache / (entry["repo"].replace("/", "+") + ".git")
    if not _has_commit(target, entry["commit"]):
        if not clone:
            raise CorpusError(f"{entry['repo']} @ {entry['commit'][:8]} is not under "
                              f"{mirror}; pass --clone to fetch it from GitHub")
        url = f"https://github.com/{entry['repo']}.git"
        done = subprocess.run(["git", "clone", "--bare", "--quiet", url, str(target)],
                              capture_output=True, text=True)
        if done.returncode != 0 or not _has_commit(target, entry["commit"]):
            raise CorpusError(f"could not clone {url} with commit {entry['commit'][:8]}: "
                              f"{done.stderr.strip()[:200]}")
    return target


def materialise(entry: dict, git_dir: Path, out: Path) -> Path:
    """Write the entry's files into ``out/<assignment>/<student>/`` and return that folder."""
    folder = out / entry["assignment"] / entry["student"]
    for name, path in entry["files"].items():
        shown = _git(git_dir, "show", f"{entry['commit']}:{path}")
        if shown.returncode != 0:
            raise CorpusError(f"{entry['repo']} @ {entry['commit'][:8]} has no {path}")
        target = folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise CorpusError(f"entry {entry['student']!r}: file name {name!r} leaves its folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(shown.stdout)
    return folder


def build(entries: list[dict], out: Path, mirror: Path | None, clone: bool) -> list[dict]:
    """Materialise every entry; return one provenance record per written submission."""
    records = []
    for entry in entries:
        git_dir = git_dir_for(entry, mirror, out / ".git-cache", clone)
        folder = materialise(entry, git_dir, out)
        records.append({key: entry[key] for key in ("student", "repo", "commit", "assignment",
                                                    "files")} | {"folder": str(folder)})
        print(f"{entry['assignment']}/{entry['student']}: {entry['repo']} @ {entry['commit'][:8]}")
    (out / "corpus.json").write_text(json.dumps(records, indent=1) + "\n")
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=os.environ.get("GRADER_CORPUS"),
                        help="folder to write the corpus into (default: $GRADER_CORPUS)")
    parser.add_argument("--mirror", type=Path, help="folder of bare git copies (owner+name/repo)")
    parser.add_argument("--clone", action="store_true",
                        help="git clone from GitHub what the mirror lacks (needs internet)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("name the corpus folder with --out DIR or GRADER_CORPUS")
    try:
        build(load_manifest(args.manifest), args.out, args.mirror,
              clone=args.clone or args.mirror is None)
    except CorpusError as exc:
        print(f"corpus_build: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
