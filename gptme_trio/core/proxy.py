"""open_policy_proxy: the URL policy, enforced where connections are made.

Chat's browser contexts send every request through this HTTP proxy on 127.0.0.1 (Playwright
routes loopback through it too), and so does the request guard's `route.fetch()`. For each
connection the proxy resolves the host once, the policy checks every address, and the proxy
connects to a checked address. What the request guard cannot see meets the policy here: the
redirect hops of subresources (each hop is a new request), WebSockets (CONNECT), and a name
whose DNS answer changes between the check and the connection (rebinding).

Plain http arrives as an absolute-form request and goes on in origin form, one request per
connection (`Connection: close` both ways), so a kept-alive connection never carries a request
to another host. https, wss and ws arrive as CONNECT: a tunnel to the checked address.
A refusal is a 403 carrying `X-Gptme-Trio-Refused: <why>`; a failed connection a 502 carrying
`X-Gptme-Trio-Error: <Chromium's net error name>`, so the request guard reports either as before.
"""

from __future__ import annotations

import errno
import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlsplit

import trio

from gptme_trio.core.errors import LookupFailed, Refused
from gptme_trio.core.policy import UrlPolicy, host_of

REFUSED_HEADER = "x-gptme-trio-refused"
ERROR_HEADER = "x-gptme-trio-error"
_MAX_HEAD = 256 * 1024  # as Chromium (a longer response head is ERR_RESPONSE_HEADERS_TOO_BIG there)
_DROPPED = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", REFUSED_HEADER, ERROR_HEADER}
_ERRNO_NAMES: dict[int | None, str] = {
    errno.ECONNREFUSED: "connectionrefused",
    errno.ECONNRESET: "connectionreset",
    errno.ETIMEDOUT: "timedout",
    errno.EHOSTUNREACH: "addressunreachable",
    errno.ENETUNREACH: "addressunreachable",
}
_GONE = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)  # a side went away
_log = logging.getLogger(__name__)
Headers = list[tuple[str, str]]


@asynccontextmanager
async def open_policy_proxy(policy: UrlPolicy) -> AsyncIterator[str]:
    """Run the proxy for the duration of the block; yields its URL (http://127.0.0.1:PORT)."""
    async with trio.open_nursery() as nursery:
        url = await nursery.start(serve_policy_proxy, policy)
        yield url
        nursery.cancel_scope.cancel()


async def serve_policy_proxy(
    policy: UrlPolicy, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, _Connection(policy).serve, listeners)
        task_status.started(f"http://127.0.0.1:{port}")


class Answer(Exception):
    """Answer the client with this response (bytes: head and body) instead of relaying one."""

    def __init__(self, status: int, reason: str, text: str, header: tuple[str, str] | None = None) -> None:
        super().__init__(text)
        self.response = _response(status, reason, text, header)


class _Connection:
    def __init__(self, policy: UrlPolicy) -> None:
        self._policy = policy

    async def serve(self, client: trio.SocketStream) -> None:
        async with client:
            try:
                head, rest = await _read_head(client)
                method, target, headers = parse_request(head)
                if method == "CONNECT":
                    await self._tunnel(client, target, rest)
                else:
                    await self._forward(client, method, target, headers, rest)
            except Answer as reply:
                await _send_quietly(client, reply.response)
            except _GONE:
                pass  # either side went away: nothing left to relay
            except Exception as exc:  # a bug costs this connection, never the session's other pages
                _log.error("policy proxy: a connection failed: %r", exc, exc_info=_log.isEnabledFor(logging.DEBUG))

    async def _open(self, host: str, port: int) -> trio.SocketStream:
        """A connection to a checked address of `host` (each tried in turn), or Answer."""
        try:
            addresses = await self._policy.addresses(host)
        except LookupFailed as exc:
            raise Answer(502, "Bad Gateway", str(exc), (ERROR_HEADER, "namenotresolved")) from exc
        except Refused as exc:
            why = exc.refusal.reason
            _log.info("policy proxy refused %s:%s: %s", host, port, why)
            raise Answer(403, "Forbidden", f"refused by gptme-trio's URL policy: {why}", (REFUSED_HEADER, why)) from exc
        failure: OSError | None = None
        for address in addresses:
            try:
                return await trio.open_tcp_stream(str(address), port)  # an address literal: no second lookup
            except OSError as exc:
                failure = exc
        name = _ERRNO_NAMES.get(_errno_of(failure), "connectionfailed")
        raise Answer(502, "Bad Gateway", f"could not connect to {host}:{port}: {failure}", (ERROR_HEADER, name))

    async def _tunnel(self, client: trio.SocketStream, authority: str, rest: bytes) -> None:
        host, port = _host_port(f"http://{authority}/")
        if port is None:
            raise Answer(400, "Bad Request", f"CONNECT needs a port: {authority}")
        upstream = await self._open(host, port)
        async with upstream:
            await client.send_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                await upstream.send_all(rest)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_pump, client, upstream, nursery.cancel_scope)
                nursery.start_soon(_pump, upstream, client, nursery.cancel_scope)

    async def _forward(
        self, client: trio.SocketStream, method: str, target: str, headers: Headers, rest: bytes
    ) -> None:
        if not target.lower().startswith("http://"):
            raise Answer(400, "Bad Request", f"a proxy request needs an absolute http:// URL, not {target[:200]}")
        host, port = _host_port(target)
        names = {name.lower() for name, _ in headers}
        if "transfer-encoding" in names:  # Chromium streams uploads over HTTP/2 only: never sent here
            raise Answer(411, "Length Required", "chunked request bodies are not relayed")
        declared = next((v for n, v in headers if n.lower() == "content-length"), "0")
        if not declared.isdigit():
            raise Answer(400, "Bad Request", f"bad Content-Length: {declared[:50]!r}")
        length = int(declared)
        upstream = await self._open(host, port or 80)
        async with upstream:
            await upstream.send_all(_request_head(method, target, headers))
            await _send_body(client, upstream, rest, length)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_relay_response, upstream, client, nursery.cancel_scope)
                nursery.start_soon(_wait_closed, client, nursery.cancel_scope)


def _errno_of(exc: BaseException | None) -> int | None:
    """The errno of a failed connect (trio puts each attempt's error in a group under its own)."""
    while exc is not None and getattr(exc, "errno", None) is None:
        group = exc.__cause__
        exc = group.exceptions[0] if isinstance(group, BaseExceptionGroup) else None
    return getattr(exc, "errno", None)


async def _read_head(stream: trio.SocketStream) -> tuple[bytes, bytes]:
    """The message head (without its blank line) and the bytes that came after it."""
    data = bytearray()
    while (end := _head_end(data)) is None:
        if len(data) > _MAX_HEAD:
            raise Answer(431, "Request Header Fields Too Large", "the message head is over 256 KiB")
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise trio.BrokenResourceError("closed before the end of the message head")
        data += chunk
    return bytes(data[: end[0]]), bytes(data[end[1] :])


def _head_end(data: bytearray) -> tuple[int, int] | None:
    """Where the head ends and the body starts: a blank line, CRLF or bare LF (as Chromium accepts)."""
    found = [(i, i + len(mark)) for mark in (b"\r\n\r\n", b"\n\n", b"\n\r\n") if (i := data.find(mark)) >= 0]
    return min(found, default=None)


def _lines(head: bytes) -> list[str]:
    return [line.removesuffix("\r") for line in head.decode("latin-1").split("\n")]


def parse_request(head: bytes) -> tuple[str, str, Headers]:
    """The method, target and headers of a request head (without its blank line), or Answer (a 400)."""
    request_line, *lines = _lines(head)
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise Answer(400, "Bad Request", "not an HTTP/1.x request")
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise Answer(400, "Bad Request", "malformed header line")
        headers.append((name, value.strip()))
    return parts[0], parts[1], headers


def _host_port(url: str) -> tuple[str, int | None]:
    """The canonical host of `url` (as the policy reads it) and its port, if it has one."""
    try:
        return host_of(url), urlsplit(url).port
    except (ValueError, Refused) as exc:
        raise Answer(400, "Bad Request", f"malformed host in {url[:200]}") from exc


def _request_head(method: str, target: str, headers: Headers) -> bytes:
    """The request in origin form, for the server itself, one request per connection."""
    after_scheme = target[len("http://") :]
    cut = min((i for i in (after_scheme.find("/"), after_scheme.find("?")) if i >= 0), default=len(after_scheme))
    path = after_scheme[cut:]
    path = path if path.startswith("/") else "/" + path
    return _head(f"{method} {path} HTTP/1.1", _without_hop_by_hop(headers))


async def _send_body(client: trio.SocketStream, upstream: trio.SocketStream, rest: bytes, length: int) -> None:
    """Exactly `length` bytes of request body: nothing after it is relayed (no second request)."""
    chunk, rest = rest[:length], rest[length:]
    while True:
        if chunk:
            await upstream.send_all(chunk)
            length -= len(chunk)
        if length <= 0:
            break
        chunk = await client.receive_some(min(length, 65536))
        if not chunk:
            raise trio.BrokenResourceError("the client closed before the end of the request body")
    if rest:
        raise trio.BrokenResourceError("the client sent more than one request")


async def _relay_response(upstream: trio.SocketStream, client: trio.SocketStream, done: trio.CancelScope) -> None:
    try:
        head, rest = await _read_head(upstream)
        status_line, *lines = _lines(head)
        if not status_line.startswith("HTTP/"):
            raise Answer(502, "Bad Gateway", f"not an HTTP response: {status_line[:100]!r}")
    except (*_GONE, Answer) as exc:  # Chromium's words: ERR_CONNECTION_CLOSED, or ERR_FAILED for garbage
        code = "failed" if isinstance(exc, Answer) else "connectionclosed"
        await _send_quietly(
            client, _response(502, "Bad Gateway", f"no valid response from the server ({exc})", (ERROR_HEADER, code))
        )
        done.cancel()
        return
    headers = [(n, v.strip()) for n, colon, v in (line.partition(":") for line in lines) if colon]
    try:
        await client.send_all(_head(status_line, _without_hop_by_hop(headers)) + rest)
    except _GONE:
        done.cancel()  # the client went away
        return
    await _pump(upstream, client, done)


async def _wait_closed(client: trio.SocketStream, done: trio.CancelScope) -> None:
    """The client closes once it has the response (or gives up): then the exchange is over."""
    with suppress(*_GONE):
        await client.receive_some(1)  # anything else it sends would be a second request: not relayed either
    done.cancel()


async def _pump(source: trio.SocketStream, sink: trio.SocketStream, done: trio.CancelScope) -> None:
    """Copy until `source` ends; then the whole exchange ends."""
    try:
        while chunk := await source.receive_some(65536):
            await sink.send_all(chunk)
    except _GONE:
        pass  # either side went away
    done.cancel()


def _without_hop_by_hop(headers: Headers) -> Headers:
    named = {t.strip().lower() for n, v in headers if n.lower() == "connection" for t in v.split(",")}
    kept = [(n, v) for n, v in headers if n.lower() not in _DROPPED and n.lower() not in named]
    return [*kept, ("Connection", "close")]


def _head(first_line: str, headers: Headers) -> bytes:
    return "\r\n".join([first_line, *(f"{n}: {v}" for n, v in headers), "", ""]).encode("latin-1")


def _response(status: int, reason: str, text: str, header: tuple[str, str] | None) -> bytes:
    body = f"<!doctype html><title>{reason}</title><p>gptme-trio: {html.escape(text)}</p>".encode()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    if header is not None:
        headers.append((header[0], header[1].encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")))
    return _head(f"HTTP/1.1 {status} {reason}", [*headers, ("Connection", "close")]) + body


async def _send_quietly(client: trio.SocketStream, data: bytes) -> None:
    with suppress(*_GONE):
        await client.send_all(data)
