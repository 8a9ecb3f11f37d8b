"""Grading many submissions: executors (inline, process pool, Dask), progress and resumption.

:mod:`~grader.batch.grade` grades a batch into the gradebook, one committed result at a
time; :mod:`~grader.batch.executors` runs the tasks (:mod:`~grader.batch.slurm`: on Dask workers
in SLURM jobs); :mod:`~grader.batch.progress` shows them.
"""
