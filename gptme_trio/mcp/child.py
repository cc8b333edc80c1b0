"""A stdio MCP server as chat's child: its own session, its stderr in a log file, ended whole.

    async with open_child(argv, env=env, cwd=cwd, log=path) as child:
        async with ClientSession(child.read, child.write) as session: ...
        status = await child.process.wait()       # the server died on its own
    # here the server and everything it started are gone, on every exit path

The SDK's own `stdio_client` starts a server in a new session too, but on leaving it only
kills the process group when the server outlives its stdin by 2 s: a server that exits on EOF
leaves its children behind. So we spawn it ourselves and end it as the shell's commands are
ended (tools/processes.py): stdin closed, `EOF_GRACE` s to exit, then SIGTERM to every process of
its session (found by session id: grandchildren in other process groups too), SIGKILL 2 s later.
Ctrl-C in the terminal never reaches it (another session): the client cancels its calls.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import anyio
import mcp_types as types
import trio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

from gptme_trio.core.errors import GptmeTrioError, os_reason
from gptme_trio.tools.processes import end_session

EOF_GRACE = 1.0  # seconds a server gets to exit after its stdin closes, before SIGTERM
MAX_LINE = 64 * 1024 * 1024  # bytes of one JSON-RPC message at most: a server that sends more is cut off

_GONE = (trio.ClosedResourceError, trio.BrokenResourceError, anyio.ClosedResourceError, anyio.BrokenResourceError)


class ServerFailed(GptmeTrioError):
    """An MCP server that could not start, or that broke its connection."""


@dataclass
class Child:
    process: trio.Process
    read: MemoryObjectReceiveStream[SessionMessage | Exception]
    write: MemoryObjectSendStream[SessionMessage]


@asynccontextmanager
async def open_child(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path) -> AsyncIterator[Child]:
    """Start `argv` with pipes for the protocol and `log` (appended to) as its stderr."""
    try:
        err = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ServerFailed(f"cannot open its log {log}: {os_reason(exc)}") from exc
    try:
        process = await trio.lowlevel.open_process(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
            cwd=cwd,
            env=dict(env),
        )
    except OSError as exc:
        raise ServerFailed(f"cannot start {argv[0]}: {os_reason(exc)}") from exc
    finally:
        os.close(err)
    assert process.stdin is not None and process.stdout is not None
    to_session, read = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write, from_session = anyio.create_memory_object_stream[SessionMessage](0)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_read, process.stdout, to_session)
            nursery.start_soon(_write, process.stdin, from_session, to_session)
            try:
                yield Child(process, read, write)
            finally:
                nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await _stop(process)
            for stream in (read, write, to_session, from_session):
                stream.close()


async def _read(stdout: trio.abc.ReceiveStream, to_session: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
    """The server's stdout, line by line, as messages for the session; EOF closes the session's stream."""
    pending = bytearray()
    async with to_session:
        try:
            while chunk := await stdout.receive_some(65536):
                pending += chunk
                while (end := pending.find(b"\n")) >= 0:
                    line, pending[: end + 1] = bytes(pending[:end]), b""
                    if line.strip():
                        await to_session.send(_parse(line))
                if len(pending) > MAX_LINE:
                    await to_session.send(ServerFailed(f"a message longer than {MAX_LINE} bytes"))
                    return
        except (*_GONE, OSError):
            return  # the session or the pipe is gone: the session sees its stream end


def _parse(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:  # pydantic's ValidationError: the session reports it, the connection goes on
        return exc


async def _write(
    stdin: trio.abc.SendStream,
    from_session: MemoryObjectReceiveStream[SessionMessage],
    to_session: MemoryObjectSendStream[SessionMessage | Exception],
) -> None:
    try:
        async with from_session:
            async for message in from_session:
                text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await stdin.send_all(text.encode() + b"\n")
    except (*_GONE, OSError):
        to_session.close()  # the server stopped reading: requests fail instead of waiting for ever


async def _stop(process: trio.Process) -> None:
    """Close its stdin, give it EOF_GRACE s, then end its whole session (bounded: ~4 s at worst)."""
    assert process.stdin is not None and process.stdout is not None
    with suppress(trio.BrokenResourceError, OSError):
        await process.stdin.aclose()
    with trio.move_on_after(EOF_GRACE):
        await process.wait()
    await end_session(process.pid, process)
    await process.stdout.aclose()
