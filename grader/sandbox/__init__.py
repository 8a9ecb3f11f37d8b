"""Run untrusted student code in a separate, limited process (the sandbox).

- :mod:`grader.worker` is the code that runs *inside* the sandbox. It
  is self-contained (standard library and numpy only) because the sandbox sees
  nothing of the harness, the reference or the rubrics.
- :mod:`grader.sandbox.launcher` builds the command (bubblewrap when it works,
  else a plain subprocess) and the resource limits.
- :mod:`grader.sandbox.layers` are the isolation layers, one module each, probed by
  :mod:`grader.sandbox.isolation`.
- :mod:`grader.sandbox.session` owns one worker process: it sends calls
  (:mod:`~grader.sandbox.calls`) over its pipes (:mod:`~grader.sandbox.channel`), reads
  replies under a wall-clock deadline while it measures the sandbox's processes
  (:mod:`~grader.sandbox.tree`), kills and restarts.
"""

from grader.sandbox.calls import CallOutcome, Each, Ref, Step
from grader.sandbox.session import SandboxSession

__all__ = ["CallOutcome", "Each", "Ref", "SandboxSession", "Step"]
