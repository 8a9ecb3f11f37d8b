"""A sandbox's own folder: a read-only copy of the submission and a writable scratch folder.

Each sandbox gets a fresh folder in this process's private temp base
(:mod:`grader.workdirs`)::

    sandbox-XXXX/          0700, or 0750 root:<sandbox gid> when the sandbox has its own uid
        submission/        the student's files, read-only for the student: owned by the
                           grader (a sandbox uid cannot write them) and mode 0555/0444
        scratch/           the only writable place: HOME and TMPDIR of the worker

The copy is what the worker imports and what the source rules read, so a student who
rewrites its own files at run time changes neither what is graded nor the hash recorded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader import workdirs


@dataclass(frozen=True)
class Workspace:
    root: Path
    submission: Path
    scratch: Path

    def remove(self) -> None:
        workdirs.remove(self.root)

    def clear_scratch(self) -> None:
        """Empty the scratch folder, so that a restarted worker starts from nothing."""
        for entry in list(os.scandir(self.scratch)):
            if entry.is_dir(follow_symlinks=False):
                workdirs.rmtree(Path(entry.path))
            else:
                os.unlink(entry.path)


def create(submission_dir: Path, owner: tuple[int, int] | None = None,
           parent: Path | None = None) -> Workspace:
    """Copy ``submission_dir`` into a new workspace; ``owner`` is the sandbox's (uid, gid);
    ``parent``: the slot folder of the warm worker that will run it (default: this process's
    private base)."""
    root = Path(tempfile.mkdtemp(prefix="sandbox-", dir=parent)) if parent else \
        workdirs.make("sandbox-")
    try:
        submission, scratch = root / "submission", root / "scratch"
        shutil.copytree(submission_dir, submission, symlinks=True)
        _read_only(submission)
        scratch.mkdir(mode=0o700)
        if owner is not None:
            os.chown(scratch, *owner)
            os.chown(root, 0, owner[1])
            os.chmod(root, 0o750)
    except BaseException:
        workdirs.remove(root)
        raise
    return Workspace(root, submission, scratch)


def _read_only(tree: Path) -> None:
    for folder, dirs, files in os.walk(tree, topdown=False):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)
