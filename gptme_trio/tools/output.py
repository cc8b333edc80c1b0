"""A command's output, bounded in memory: the first HEAD bytes, the last TAIL bytes, and the count.

    out = BoundedOutput()
    out.add(chunk)                  # as often as the command prints; memory stays under HEAD + TAIL
    out.text()                      # head, "[... 1.2 MB (1234567 bytes) omitted ...]", tail

Bytes become text at the end (UTF-8, invalid bytes as U+FFFD), so a cut never splits what the
model reads into two garbled halves more than once per cut.
"""

from __future__ import annotations

HEAD = 20 * 1024
TAIL = 20 * 1024


class BoundedOutput:
    def __init__(self, head: int = HEAD, tail: int = TAIL) -> None:
        self._head_limit, self._tail_limit = head, tail
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0  # bytes seen

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data[-self._tail_limit :]
            excess = len(self._tail) - self._tail_limit
            if excess > 0:
                del self._tail[:excess]

    @property
    def omitted(self) -> int:
        return self.total - len(self._head) - len(self._tail)

    def text(self) -> str:
        head = self._head.decode("utf-8", "replace")
        if not self._tail:
            return head
        tail = self._tail.decode("utf-8", "replace")
        if not self.omitted:
            return (self._head + self._tail).decode("utf-8", "replace")
        return f"{head}\n[... {size(self.omitted)} ({self.omitted} bytes) omitted ...]\n{tail}"


def size(count: int) -> str:
    """A byte count for people: 512 bytes, 20.0 KB, 1.0 GB."""
    if count < 1024:
        return f"{count} bytes"
    value, units = count / 1024, ["KB", "MB", "GB", "TB"]
    while value >= 1024 and len(units) > 1:
        value, units = value / 1024, units[1:]
    return f"{value:.1f} {units[0]}"
