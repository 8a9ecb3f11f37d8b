"""Hostile (escape): tries to write files outside its scratch folder: /tmp, /var/tmp,
/dev/shm, the real home, the repository and its own submission folder. It computes the
right answer only when such a write succeeded, so a leaky sandbox would hand it the
points. Under bubblewrap every attempt fails or lands in a throw-away tmpfs."""

import os

from attack import graded_if

NAME = "grader_hostile_write_outside"
HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = [f"/tmp/{NAME}", f"/var/tmp/{NAME}", f"/dev/shm/{NAME}", f"/root/{NAME}",
           f"/work/main/tests/hostile/{NAME}", f"/work/main/{NAME}", os.path.join(HERE, NAME)]


def _escaped():
    escaped = False
    for target in TARGETS:
        try:
            with open(target, "w") as handle:
                handle.write("escaped the sandbox\n")
        except OSError:
            continue
        # Inside bubblewrap, /, /root, /tmp and /dev/shm are private, throw-away tmpfs: a
        # write there is no escape by itself (the test checks that the host's copies are
        # absent). The other targets exist on the host only, or are read-only inside.
        escaped = escaped or not target.startswith(("/tmp/", "/dev/shm/", "/root/"))
    return escaped


def _escaped_from_scratch():
    with open("allowed_in_scratch.txt", "w") as handle:  # the scratch folder is writable
        handle.write("fine\n")
    return _escaped()


my_imfilter, create_hybrid_image = graded_if(_escaped_from_scratch)
