"""Hostile (the machine): reads /etc/shadow, which only root (and group shadow) may read — as
uid 0 inside bubblewrap, or with no uid of its own, it could. It earns the right answers only
when it could."""

from attack import graded_if


def _read_shadow():
    try:
        with open("/etc/shadow", "rb") as handle:
            return bool(handle.read(1))
    except OSError:
        return False


my_imfilter, create_hybrid_image = graded_if(_read_shadow)
