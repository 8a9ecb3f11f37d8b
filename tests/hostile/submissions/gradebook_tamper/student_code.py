"""Hostile (escape): reads the command lines of the processes above it from /proc to find
the gradebook (--db) and the JSON output (--json), and tries to open them for writing (it
leaves a `.tampered` file beside them to prove it). It computes the right answer only when
that worked, so a sandbox that exposes the grader would hand it the points."""

from attack import grader_option, graded_if


def _tampered():
    done = False
    for flag in ("--db", "--json"):
        path = grader_option(flag)
        if path is None:
            continue
        try:
            with open(path + ".tampered", "w") as handle:
                handle.write("tampered\n")
            done = True
        except OSError:
            pass
    return done


my_imfilter, create_hybrid_image = graded_if(_tampered)
