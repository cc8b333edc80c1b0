"""Bounded, cancellable reads of the local files a user names: regular files, FIFOs, pipes
(`<(...)`, /dev/stdin), devices (/dev/zero, a tty).

    body = await read_limited(Path("page.html"), 100_000_000)   # OSError(EFBIG) when larger

Nothing here blocks a thread: the file is opened non-blocking (opening a FIFO never waits) and
every read of a pipe, FIFO or tty waits on Trio's I/O readiness, so the caller's deadline and
Ctrl-C end it at once. A FIFO with no writer yet waits for one, as `cat` does (Linux reports
no hang-up before a writer has come). A regular file or a device that is always ready (epoll
refuses them) is read in chunks with a checkpoint between them. Reads stop one chunk past
`limit`: /dev/zero costs at most `limit` bytes of memory.

`read_limited_sync` is the same bound for the CLI's own input before Trio runs (`-i FILE`).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import trio

CHUNK = 1 << 20


def too_large(limit: int) -> OSError:
    """The OSError a read past `limit` raises (`os_reason` words it)."""
    return OSError(errno.EFBIG, f"larger than {limit:,} bytes")


async def read_limited(path: Path, limit: int) -> bytes:
    """All of `path`'s bytes, or OSError: EFBIG past `limit`, or what opening/reading raised."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        pollable = not stat.S_ISREG(os.fstat(fd).st_mode)
        chunks: list[bytes] = []
        size = 0
        while True:
            if pollable:
                try:
                    await trio.lowlevel.wait_readable(fd)
                except PermissionError:  # epoll cannot watch it (/dev/zero): always ready
                    pollable = False
            if not pollable:
                await trio.lowlevel.checkpoint()
            try:
                data = os.read(fd, min(CHUNK, limit + 1 - size))
            except BlockingIOError:  # readiness was for someone else's read
                continue
            if not data:
                return b"".join(chunks)
            size += len(data)
            if size > limit:
                raise too_large(limit)
            chunks.append(data)
    finally:
        os.close(fd)


def read_limited_sync(path: Path | None, limit: int, *, max_line: int | None = None) -> bytes:
    """`path`'s bytes (None: stdin's), read in chunks; OSError(EFBIG) past `limit` bytes, or as
    soon as one line passes `max_line` bytes (no need to read the rest of /dev/zero to know)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC) if path is not None else 0
    try:
        chunks: list[bytes] = []
        size = line = 0
        while data := os.read(fd, min(CHUNK, limit + 1 - size)):
            size += len(data)
            if size > limit:
                raise too_large(limit)
            if max_line is not None:
                first = data.find(b"\n")  # the line carried over from the last chunk ends here
                if first < 0:
                    line += len(data)
                    longest = line
                else:
                    longest = max(line + first, _longest_line(data))
                    line = len(data) - data.rfind(b"\n") - 1
                if longest > max_line:
                    raise OSError(errno.EFBIG, f"a line is longer than {max_line:,} bytes")
            chunks.append(data)
        return b"".join(chunks)
    finally:
        if path is not None:
            os.close(fd)


def _longest_line(data: bytes) -> int:
    return max((len(part) for part in data.split(b"\n")), default=0)
