"""Bounded capture of what the student's code prints: the head and the tail, and a count."""

from __future__ import annotations


class Capture:
    """Keeps the first ``head`` and last ``tail`` bytes written, counts the rest."""

    def __init__(self, head: int = 32_000, tail: int = 8_000):
        self._head_cap, self._tail_cap = head, tail
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def write(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            del self._tail[: max(0, len(self._tail) - self._tail_cap)]

    def text(self) -> str:
        """The captured output, with a marker where bytes were dropped."""
        kept = len(self._head) + len(self._tail)
        middle = f"\n… [{self.total - kept} bytes not shown] …\n" if self.total > kept else ""
        return (self._head.decode("utf-8", "replace") + middle
                + self._tail.decode("utf-8", "replace"))
