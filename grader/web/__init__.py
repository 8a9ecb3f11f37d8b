"""``grader serve``: the course staff's web application over the gradebook.

It reads and writes the same tables as the command line (:mod:`grader.store`) and renders
the same templates as the static reports (:mod:`grader.report`), extended with the staff's
controls. :mod:`~grader.web.app` builds the application; :mod:`~grader.web.security` holds
what guards it (sessions from one-time links, CSRF tokens, the headers every response
carries); :mod:`~grader.web.pages` are its pages.
"""
