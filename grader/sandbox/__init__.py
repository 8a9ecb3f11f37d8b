"""Run untrusted student code in a separate, limited process (the sandbox).

- :mod:`grader.worker` is the code that runs *inside* the sandbox. It
  is self-contained (standard library and numpy only) because the sandbox sees
  nothing of the harness, the reference or the rubrics.
- :mod:`grader.sandbox.launcher` builds the command (bubblewrap when it works,
  else a plain subprocess) and the resource limits.
- :mod:`grader.sandbox.session` owns one worker process: it sends calls, reads
  replies under a wall-clock deadline, captures output, kills and restarts.
"""

from grader.sandbox.session import CallOutcome, Each, Ref, SandboxSession, Step

__all__ = ["CallOutcome", "Each", "Ref", "SandboxSession", "Step"]
