"""``grader audit``: how strong is a rubric (mutation score), and do correct variants pass?

- :mod:`grader.audit.targets`: which reference module stands for which student module;
- :mod:`grader.audit.mutate`: the mutants (AST rewrites of the reference source);
- :mod:`grader.audit.run`: grading them (and the variants) through the sandbox, in parallel;
- :mod:`grader.audit.report`: counts, scores, survivors with diffs, JSON.
"""

from grader.audit.report import AuditReport
from grader.audit.run import AuditOptions, run_audit

__all__ = ["AuditOptions", "AuditReport", "run_audit"]
