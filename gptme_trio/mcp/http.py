"""Streamable HTTP at /mcp, served by hypercorn's Trio worker (uvicorn cannot run under Trio).

DNS-rebinding protection is on: requests must name this server in Host (and Origin, when a
browser sends one). A bind beyond loopback needs a bearer token (plan.check_bind); with a token,
every request without `Authorization: Bearer TOKEN` gets 401.
"""

from __future__ import annotations

import hmac
import logging
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings

from gptme_trio.mcp.plan import is_loopback

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("gptme_trio.mcp")


class _Bearer:
    """An ASGI app that lets through only HTTP requests carrying the token."""

    def __init__(self, app: App, token: str) -> None:
        self._app, self._expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b'{"error": "unauthorized: send Authorization: Bearer TOKEN (--auth-token)"}'
                headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
                await send({"type": "http.response.start", "status": 401, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self._app(scope, receive, send)


def _noting_ends(app: App) -> App:
    """`app`, logging (-v) each session a client ends with DELETE, as a client should when it leaves."""

    async def noted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "DELETE":
            log.info("a client ended its session (HTTP DELETE %s)", scope.get("path"))
        await app(scope, receive, send)

    return noted


def _security(host: str) -> TransportSecuritySettings:
    """Host and Origin must name this server: loopback names, and the bound host."""
    names = ["127.0.0.1", "localhost", "[::1]"]
    if not is_loopback(host):
        if host in ("0.0.0.0", "::"):  # any name reaches it: the bearer token is the protection
            return TransportSecuritySettings(enable_dns_rebinding_protection=False)
        names.append(f"[{host}]" if ":" in host else host)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{name}:*" for name in names],
        allowed_origins=[f"http://{name}:*" for name in names],
    )


async def serve_http(server: Server[Any], host: str, port: int, token: str | None) -> None:
    """Serve until cancelled (a signal)."""
    app: App = _noting_ends(server.streamable_http_app(transport_security=_security(host), host=host))
    if token:
        app = _Bearer(app, token)
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = log
    config.graceful_timeout = 0.5  # a signal ends open streams within the second we promise

    async def run(task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
        await serve(app, config, shutdown_trigger=trio.sleep_forever, task_status=task_status)  # type: ignore[arg-type]

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(run)
        for bind in binds:
            print(f"gptme-trio: MCP server at {bind}/mcp", file=sys.stderr, flush=True)
