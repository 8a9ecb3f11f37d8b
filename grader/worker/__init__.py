"""The student side: the code that runs inside the sandbox, next to the student's.

It imports nothing from ``grader`` (it runs as a script folder mounted at ``/harness``):
:mod:`main` and :mod:`zygote` start it, :mod:`confine` applies the isolation layers to
itself, :mod:`server` answers the trusted side over :mod:`protocol`, and :mod:`drivers`
are trusted code that runs students' training loops.
"""
