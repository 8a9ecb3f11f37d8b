"""Trusted driver code that runs *inside* the sandbox, around the student's code.

A driver does what the course notebook did with the student's module —
build their model, train it with their settings, run it — and returns only
plain data (arrays, numbers, short JSON text) for the parent to judge. Like
the worker itself, drivers import nothing but the standard library, numpy and
torch (never ``grader`` or ``reference``): the sandbox cannot see those.
A check calls one with ``Step("function", args, module="drivers.NAME")``. Drivers import
each other relatively, so the trusted side imports the same code as
``grader.worker.drivers`` (the CNN benchmark trains with this loop: one copy).
"""
