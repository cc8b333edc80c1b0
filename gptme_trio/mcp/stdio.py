"""The stdio transport: the SDK's stdio server on Trio streams of our own.

The SDK reads stdin in a worker thread that Trio cannot abandon: a server given SIGTERM with its
stdin still open would wait for the client to close it (../shared/NOTES-mcp.md, trap 1). So the
protocol gets private duplicates of fd 0 and 1 as `trio.lowlevel.FdStream`s, and fd 0 and 1 are
pointed elsewhere while we serve: fd 0 at /dev/null, fd 1 (and Python's sys.stdout) at stderr.
Nothing but protocol bytes reaches the client's end of stdout, whatever a library or a child
process (the browser's driver) prints. Descriptors and their blocking mode are restored on exit.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio


class _Lines:
    """What the SDK's stdio server reads: text lines from a Trio stream (anyio.AsyncFile's iteration)."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        pending = bytearray()
        while chunk := await self._stream.receive_some(65536):
            pending += chunk
            while (end := pending.find(b"\n")) >= 0:
                line, pending[: end + 1] = bytes(pending[:end]), b""
                if line.strip():
                    yield line.decode("utf-8", "replace")
        if pending.strip():
            yield pending.decode("utf-8", "replace")


class _Writer:
    """What the SDK's stdio server writes to: text, sent whole (anyio.AsyncFile's write and flush)."""

    def __init__(self, stream: trio.abc.SendStream) -> None:
        self._stream = stream

    async def write(self, text: str) -> None:
        await self._stream.send_all(text.encode())

    async def flush(self) -> None:
        pass  # send_all has sent it


def _dup(fd: int) -> int:
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)  # never in 0-2, never inherited


@asynccontextmanager
async def protocol_streams() -> AsyncIterator[tuple[_Lines, _Writer]]:
    """(lines from the client, writer to the client), with fd 0/1 kept away from everyone else."""
    saved_in, saved_out, saved_stdout = _dup(0), _dup(1), sys.stdout
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        async with trio.lowlevel.FdStream(_dup(saved_in)) as rx, trio.lowlevel.FdStream(_dup(saved_out)) as tx:
            yield _Lines(rx), _Writer(tx)
    finally:  # the streams restored the blocking mode when they closed
        sys.stdout = saved_stdout
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        for fd in (null, saved_in, saved_out):
            os.close(fd)
