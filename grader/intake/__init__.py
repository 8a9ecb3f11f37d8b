"""The intake stage: a student's submission read on the trusted side, where it is data.

:mod:`~grader.intake.submission` materialises a folder, file or archive
(:mod:`~grader.intake.archive`) into a private folder; :mod:`~grader.intake.ipynb` reads
notebooks; :mod:`~grader.intake.source_rules` and :mod:`~grader.intake.parsing` read the
course's rules from the source by AST; :mod:`~grader.intake.removed_apis` knows what old
course code imports that today's libraries removed; :mod:`~grader.intake.timed` does all of it
under a wall-clock limit; :mod:`~grader.intake.similarity` compares a batch's submissions.
Nothing here runs student code.
"""
