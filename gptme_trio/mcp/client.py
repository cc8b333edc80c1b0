"""MCP servers in chat: their tools as plain `Tool` objects, each server open for chat's life.

    async with open_servers(specs, logs=home / "logs" / "mcp", env=os.environ, cwd=cwd, notice=say) as servers:
        servers.tools()      # {"NAME__tool": Tool}: the running servers' tools, their allowlists applied
        servers.report()     # what /mcp prints: each server, its state, its tools

The CLI opens this (chat never imports mcp/, nor mcp/ chat). Servers start concurrently, each
under its own `start_timeout`: one that fails, or is slow, costs the others nothing and chat goes
on without it (one line through `notice`). A stdio server runs in a session of its own with its
stderr appended to `logs/NAME.log` (child.py); chat's exit ends it whole. A call is an ordinary
tool call: the agent's deadline, confirmation and Ctrl-C apply; cancelling it cancels the Trio
scope around `call_tool`, and the SDK then sends `notifications/cancelled`. Results are cut at
RESULT_BUDGET characters as the web tools' are; images come back attached for a model that sees.
Every exception of the SDK, or of a server that misbehaves, is mapped here into `ToolError` (a
call) or a failed state (a server): none reaches chat.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import trio
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from gptme_trio import __version__
from gptme_trio.core.errors import ToolError
from gptme_trio.core.images import MAX_IMAGE, Attached, Image, image_type
from gptme_trio.mcp.child import ServerFailed, open_child
from gptme_trio.mcp.servers import ServerSpec, expand, model_name
from gptme_trio.tools import Tool

RESULT_BUDGET = 20_000  # characters of a result handed to the model (the web tools' budget)
SAY_WAITING = 2.0  # seconds of waiting for servers to start before chat says so
GOODBYE_SECONDS = 1.0  # chat ending: an HTTP server's answer to the DELETE that ends our session, at most
LOG_KEEP = 10 * 1024 * 1024  # bytes: a log past this is moved to NAME.log.1 when the server starts


class _Server:
    def __init__(self, spec: ServerSpec, log: Path | None) -> None:
        self.spec, self.log = spec, log
        self.state = "starting" if spec.enabled else "disabled"
        self.session: ClientSession | None = None
        self.tools: dict[str, Tool] = {}
        self.missing: list[str] = []  # allowlisted names the server does not have
        self.http_status = 0  # the last HTTP error status a server over HTTP answered
        self.settled = trio.Event()  # running, or failed
        self.gone = trio.Event()  # its task ended: stopped, failed, or (over HTTP) its session ended


class Servers:
    """The configured servers and their tools (see the module's docstring)."""

    def __init__(self, specs: tuple[ServerSpec, ...], logs: Path, images: Path, notice: Callable[[str], None]) -> None:
        self._servers = [_Server(spec, logs / f"{spec.name}.log" if spec.command else None) for spec in specs]
        self._images, self._notice = images, notice
        self.closing = False
        self._leaving = trio.Event()  # chat ends: HTTP sessions end (the SDK sends their DELETE) before we cancel

    def tools(self) -> dict[str, Tool]:
        return {name: tool for server in self._servers if server.session for name, tool in server.tools.items()}

    def report(self) -> str:
        lines = []
        for server in self._servers:
            log = f" · log {server.log}" if server.log and server.spec.enabled else ""
            lines.append(f"{server.spec.name}: {server.state} · {server.spec.where}{log}")
            if server.missing:
                lines.append(f"  (no tool named {', '.join(server.missing)} on this server)")
            if server.session:
                lines += [f"  {name}: {_first_line(tool.description)}" for name, tool in server.tools.items()]
        return "\n".join(lines) or "no MCP servers configured"

    async def _run(self, server: _Server, env: Mapping[str, str], cwd: Path) -> None:
        spec = server.spec
        deadline = trio.current_time() + spec.start_timeout
        try:
            async with self._connect(server, env, cwd) as (session, process):
                try:
                    with trio.move_on_at(deadline) as starting:
                        await session.initialize()
                        listed = await _list_tools(session)
                except Exception as exc:  # the SDK's, or the server's: mapped once, here
                    return self._failed(server, await _why(exc, process))
                if starting.cancelled_caught:
                    return self._failed(server, f"did not start within {spec.start_timeout:g} s (start_timeout)")
                self._ready(server, session, listed)
                if process is None:  # HTTP: a server that goes away shows in its calls' errors
                    await self._leaving.wait()  # then the transport ends the session (DELETE) as it closes
                    return
                status = await process.wait()
                server.session = None
                if not self.closing:
                    self._failed(server, f"stopped: {_exit_words(status)}")
        except ServerFailed as exc:
            self._failed(server, str(exc))
        except Exception as exc:  # as above, on the way in or out
            self._failed(server, _reason(exc))
        finally:
            server.session = None
            server.settled.set()
            server.gone.set()

    @asynccontextmanager
    async def _connect(
        self, server: _Server, env: Mapping[str, str], cwd: Path
    ) -> AsyncIterator[tuple[ClientSession, trio.Process | None]]:
        """A session with the server: over HTTP (process None), or with it as our child."""
        spec = server.spec
        try:
            extra = {key: expand(value, env, f"env {key}") for key, value in spec.env.items()}
            headers = {key: expand(value, env, f"headers {key}") for key, value in spec.headers.items()}
        except ValueError as exc:
            raise ServerFailed(f"cannot start: its {exc}") from exc
        if spec.url:
            async with create_mcp_http_client(headers=headers or None) as http:
                _watch_statuses(http, server)
                async with (
                    streamable_http_client(spec.url, http_client=http) as (read, write),
                    ClientSession(read, write, client_info=_CLIENT) as session,
                ):
                    yield session, None
            return
        assert spec.command is not None and server.log is not None
        _start_log(server.log, spec)
        argv, log = [spec.command, *spec.args], server.log
        async with (
            open_child(argv, env={**env, **extra}, cwd=cwd, log=log) as child,
            ClientSession(child.read, child.write, client_info=_CLIENT) as session,
        ):
            yield session, child.process

    def _ready(self, server: _Server, session: ClientSession, listed: list[types.Tool]) -> None:
        allowed = server.spec.tools
        names = {tool.name for tool in listed}
        server.missing = [name for name in allowed or () if name not in names]
        taken: set[str] = set()
        for tool in listed:
            if allowed is None or tool.name in allowed:
                name = model_name(server.spec.name, tool.name, taken)
                taken.add(name)
                server.tools[name] = self._tool(server, tool, name)
        server.session = session
        server.state = f"running · {len(server.tools)} tool(s)"
        server.settled.set()
        if server.missing:
            self._notice(f"MCP server {server.spec.name}: it has no tool named {', '.join(server.missing)}")

    def _failed(self, server: _Server, reason: str) -> None:
        """One line for a server that failed (once: not again as its connection closes, nor as chat ends)."""
        server.session = None
        if self.closing or server.state.startswith("failed"):
            return
        server.state = f"failed: {reason}"
        log = f" (its log: {server.log})" if server.log else ""
        if server.http_status:  # the SDK words a refusal "Server returned an error response": the status says why
            reason += f" (HTTP {server.http_status})"
            server.state += f" (HTTP {server.http_status})"
        self._notice(f"MCP server {server.spec.name}: {reason}; chat goes on without its tools{log}")
        server.settled.set()

    def _tool(self, server: _Server, listed: types.Tool, name: str) -> Tool:
        schema = dict(listed.input_schema)
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})

        async def run(**arguments: Any) -> str:
            return await self._call(server, listed.name, arguments)

        description = listed.description or listed.title or listed.name
        return Tool(name, f"{description} (MCP server {server.spec.name})", schema, run)

    async def _call(self, server: _Server, tool: str, arguments: dict[str, Any]) -> str:
        session, who = server.session, f"MCP server {server.spec.name}"
        if session is None:
            raise ToolError(f"{who} is not running ({server.state})")
        try:
            result = await session.call_tool(tool, arguments)
        except MCPError as exc:
            raise ToolError(f"{who}: {exc.message}") from exc
        except Exception as exc:  # a broken connection, a malformed answer
            raise ToolError(f"{who}: {_reason(exc)}") from exc
        text, images = self._content(result)
        if len(text) > RESULT_BUDGET:
            text = text[:RESULT_BUDGET] + f"\n\n[truncated: showing {RESULT_BUDGET:,} of {len(text):,} characters]"
        if result.is_error:
            raise ToolError(text or f"{tool} failed without saying why")
        return Attached(text, tuple(images)) if images else text

    def _content(self, result: types.CallToolResult) -> tuple[str, list[Image]]:
        parts, images = [], []
        for block in result.content:
            if isinstance(block, types.TextContent):
                parts.append(block.text)
            elif isinstance(block, types.ImageContent):
                image = self._keep(block.data, block.mime_type)
                images += [image] if image else []
                parts.append(f"[image {block.mime_type}{'' if image else ': not valid or too large, not shown'}]")
            elif isinstance(block, types.EmbeddedResource):
                resource = block.resource
                text = getattr(resource, "text", None)
                parts.append(text if isinstance(text, str) else f"[binary resource {resource.uri}]")
            elif isinstance(block, types.ResourceLink):
                parts.append(f"[resource {block.uri}: {block.name}]")
            else:
                parts.append(f"[{block.type} content, not shown]")
        if not parts and result.structured_content is not None:
            parts.append(json.dumps(result.structured_content, ensure_ascii=False))
        return "\n".join(parts), images

    def _keep(self, data: str, mime: str) -> Image | None:
        """An image block saved as a file (the agent copies it beside the conversation); None: not an image."""
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return None
        kind = image_type(raw[:16])
        if kind is None or len(raw) > MAX_IMAGE:
            return None
        path = self._images / f"mcp-{secrets.token_hex(4)}.{kind.split('/')[1]}"
        path.write_bytes(raw)
        return Image(path, kind)


@asynccontextmanager
async def open_servers(
    specs: tuple[ServerSpec, ...], *, logs: Path, env: Mapping[str, str], cwd: Path, notice: Callable[[str], None]
) -> AsyncIterator[Servers]:
    """Start the enabled servers concurrently; yield once each runs or failed (or ran out of its
    start_timeout); stop them all on the way out, on every exit path."""
    if any(spec.command and spec.enabled for spec in specs):
        with suppress(OSError):  # else each server says it cannot open its log, and why
            logs.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix="gptme-trio-mcp-images-") as images:
        servers = Servers(specs, logs, Path(images), notice)
        async with trio.open_nursery() as nursery:
            for server in servers._servers:
                if server.spec.enabled:
                    nursery.start_soon(servers._run, server, env, cwd)
            starting = [server for server in servers._servers if server.spec.enabled]
            with trio.move_on_after(SAY_WAITING):
                for server in starting:
                    await server.settled.wait()
            waiting = [server.spec for server in starting if not server.settled.is_set()]
            if waiting:  # a server fetched by npx or uvx on its first use takes a while: say what chat waits for
                names, most = ", ".join(spec.name for spec in waiting), max(spec.start_timeout for spec in waiting)
                notice(f"waiting for MCP server(s) {names} to start (at most {most:g} s)")
            for server in starting:
                await server.settled.wait()
            try:
                yield servers
            finally:
                servers.closing = True
                servers._leaving.set()  # not cancelled: a cancelled HTTP transport would skip its DELETE
                with trio.CancelScope(shield=True), trio.move_on_after(GOODBYE_SECONDS):
                    for server in starting:
                        if server.spec.url:
                            await server.gone.wait()
                nursery.cancel_scope.cancel()


_CLIENT = types.Implementation(name="gptme-trio", version=__version__)


async def _list_tools(session: ClientSession) -> list[types.Tool]:
    listed, cursor = [], None
    while True:
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        listed += page.tools
        cursor = page.next_cursor
        if not cursor:
            return listed


def _start_log(log: Path, spec: ServerSpec) -> None:
    """A line saying who starts the server, appended to its log (moved aside first when it is large)."""
    try:
        if log.stat().st_size > LOG_KEEP:
            log.replace(log.with_name(log.name + ".1"))
    except OSError:
        pass
    line = f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} gptme-trio chat (pid {os.getpid()}) starts {spec.where}\n"
    try:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass  # open_child says so, with the reason


def _watch_statuses(http: httpx2.AsyncClient, server: _Server) -> None:
    """Keep the last HTTP error status of `http`'s responses in `server.http_status`."""

    async def record(response: httpx2.Response) -> None:
        if response.status_code >= 400:
            server.http_status = response.status_code

    http.event_hooks["response"] = [*http.event_hooks.get("response", []), record]


async def _why(exc: Exception, process: trio.Process | None) -> str:
    """Why a server did not start: it exited (its stdout ended a moment before), or what the SDK says."""
    if process is not None:
        with trio.move_on_after(0.5):
            await process.wait()
        if process.returncode is not None:
            return f"{_exit_words(process.returncode)} before it answered"
    return _reason(exc)


def _exit_words(status: int | None) -> str:
    if status is not None and status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


def _reason(exc: BaseException) -> str:
    """One line for an exception of the SDK or a server (the first of a group's)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        return exc.message
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split())
    if isinstance(exc, httpx2.TransportError):  # no connection, no name, a timeout: the server is not there
        return f"cannot reach it ({text[:200] or type(exc).__name__})"
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
