"""The ``--slurm-*`` flags of ``grader grade --cluster slurm``, given to the command as one
``slurm`` argument (:class:`~grader.batch.slurm.SlurmOptions`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from grader.batch.slurm import SlurmJobs, SlurmOptions
from grader.errors import GraderError

_FLAGS = [  # (flag, SlurmOptions field, metavar, click type, help)
    ("--slurm-partition", "partition", "NAME", str, "Partition (queue) of the jobs."),
    ("--slurm-account", "account", "NAME", str, "Account the jobs are charged to."),
    ("--slurm-walltime", "walltime", "HH:MM:SS", str, "Time limit of each job."),
    ("--slurm-cores", "cores", "N", click.IntRange(min=1), "Cores of each job: a worker each."),
    ("--slurm-memory", "memory", "SIZE", str, "Memory of each job, e.g. 16GB."),
    ("--slurm-gpus", "gpus", "N", click.IntRange(min=1),
     "GPUs of each job (--gres=gpu:N): a worker each, for rubrics with GPU checks."),
    ("--slurm-jobs", "jobs", "N", click.IntRange(min=1),
     "Jobs to submit (default 1); one that ends during the batch is replaced."),
    ("--slurm-config", "config", "FILE", click.Path(exists=True, dir_okay=False, path_type=Path),
     "The jobs' settings as a YAML file in dask-jobqueue's format ('jobqueue: slurm:'); "
     "the flags override it."),
]


def slurm_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the ``--slurm-*`` flags to a click command function, which receives them as
    ``slurm``: a :class:`SlurmOptions` (all defaults when none is given)."""

    @functools.wraps(command)
    def with_slurm(*args: Any, **kwargs: Any) -> Any:
        given = {field: kwargs.pop(f"slurm_{field}") for _, field, *_ in _FLAGS}
        options = SlurmOptions(**{k: v for k, v in given.items() if v is not None})
        return command(*args, slurm=options, **kwargs)

    for flag, field, metavar, kind, text in reversed(_FLAGS):
        with_slurm = click.option(flag, f"slurm_{field}", metavar=metavar, type=kind,
                                  help=text)(with_slurm)
    return with_slurm


def jobs_for(cluster: str | None, options: SlurmOptions) -> SlurmJobs | None:
    """The jobs ``--cluster slurm`` asks for (checked now), or ``None`` for another cluster,
    which the ``--slurm-*`` flags do not apply to."""
    if cluster == "slurm":
        return SlurmJobs(options)
    if options != SlurmOptions():
        raise GraderError("the --slurm-* flags apply to --cluster slurm only")
    return None
