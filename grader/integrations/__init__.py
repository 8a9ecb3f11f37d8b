"""Services the grader talks to: Canvas (:mod:`~grader.integrations.canvas`, pushing grades
through its API) and Gradescope (:mod:`~grader.integrations.gradescope`, the autograder
bundle and its run). File formats for any LMS are in :mod:`grader.export`.
"""
