"""The rubric stage: what an assignment asks and how it is scored.

:mod:`~grader.rubric.model` holds the pydantic models (a leaf every stage imports);
:mod:`~grader.rubric.load` reads a rubric file and validates each check against its kind;
:mod:`~grader.rubric.assignments` finds an assignment's folder by name or path;
:mod:`~grader.rubric.environments` describes the course environments student code runs with.
"""
