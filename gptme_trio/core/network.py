"""httpx at its edge: the one place its exceptions (and the socket, DNS and TLS errors under them)
are read. Everything else gets a `NetworkFailure`: what kind of failure, and its words.

    with network_errors(lambda failure: NavigationError(failure.reason, url=url)):
        response = await client.get(url)

Each caller words the failure as its own error type (the http engine a NavigationError, search a
ToolError, the LLM stream a ProviderError or StreamBroken); the caller's deadline is a Trio cancel
scope, never an httpx timeout.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

import httpx


class FailureKind(Enum):
    REFUSED = "refused"  # nobody listens there
    DNS = "dns"  # the name did not resolve
    TLS = "tls"  # the TLS handshake failed (a bad certificate, not TLS at all)
    CONNECT = "connect"  # the connection failed otherwise (unreachable, reset while connecting)
    CLOSED = "closed"  # the server closed the connection or broke the HTTP protocol
    TIMEOUT = "timeout"  # an httpx timeout (our deadlines are cancel scopes: only a caller's own client)
    REDIRECTS = "redirects"  # too many redirects
    INVALID_URL = "invalid URL"  # a URL httpx cannot send
    DECODING = "decoding"  # the body's content encoding is broken
    STREAM = "stream"  # the response stream was used wrongly (read twice, closed)
    NETWORK = "network"  # any other transport failure (read/write errors, unsupported scheme, proxy)


@dataclass(frozen=True)
class NetworkFailure:
    kind: FailureKind
    name: str  # the httpx exception's class name ("ReadError")
    detail: str  # TLS: the TLS library's reason; else the httpx exception's message ("" if it has none)
    transient: bool  # a new attempt may succeed (the network, not the request, failed)

    @property
    def connect_reason(self) -> str | None:
        """Why no connection could be made, when that is the failure: "connection refused",
        "DNS lookup failed", "TLS error (...)"; else None."""
        if self.kind is FailureKind.REFUSED:
            return "connection refused"
        if self.kind is FailureKind.DNS:
            return "DNS lookup failed"
        if self.kind is FailureKind.TLS:
            return f"TLS error ({self.detail})"
        return None

    @property
    def raw(self) -> str:
        """The exception's own words: "ReadError: ...", or its name alone."""
        return f"{self.name}: {self.detail}" if self.detail else self.name

    @property
    def reason(self) -> str:
        """The failure in a few words ("connection refused", "connection closed by the server (...)")."""
        if (reason := self.connect_reason) is not None:
            return reason
        if self.kind is FailureKind.CONNECT:
            return f"connection failed ({self.detail})"
        if self.kind is FailureKind.CLOSED:
            return f"connection closed by the server ({self.detail})"
        if self.kind is FailureKind.REDIRECTS:
            return "too many redirects"
        if self.kind is FailureKind.INVALID_URL:
            return f"invalid URL ({self.detail})"
        return f"network error ({self.name}: {self.detail})"


@contextmanager
def network_errors(error: Callable[[NetworkFailure], Exception | None]) -> Iterator[None]:
    """Run the block; an httpx failure in it becomes `error(failure)`, raised from the httpx exception.
    `error` returning None swallows the failure (the block's result was a courtesy)."""
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        mapped = error(describe(exc))
        if mapped is not None:
            raise mapped from exc


def describe(exc: httpx.HTTPError | httpx.InvalidURL | httpx.StreamError) -> NetworkFailure:
    """What went wrong, from an httpx exception and the socket, DNS and TLS errors it was raised from."""
    name, detail = type(exc).__name__, str(exc)
    transient = isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.TimeoutException)
    kind = FailureKind.NETWORK
    if isinstance(exc, httpx.TransportError):
        for cause in causes(exc):
            if isinstance(cause, ssl.SSLError):
                verify = getattr(cause, "verify_message", None)
                return NetworkFailure(FailureKind.TLS, name, str(verify or cause.reason or cause), transient)
            if isinstance(cause, socket.gaierror):
                return NetworkFailure(FailureKind.DNS, name, detail, transient)
            if isinstance(cause, ConnectionRefusedError):
                return NetworkFailure(FailureKind.REFUSED, name, detail, transient)
        if "refused" in detail.lower():  # anyio/trio sometimes word it without the errno type
            kind = FailureKind.REFUSED
        elif isinstance(exc, httpx.ConnectError):
            kind = FailureKind.CONNECT
        elif isinstance(exc, httpx.RemoteProtocolError):
            kind = FailureKind.CLOSED
        elif isinstance(exc, httpx.TimeoutException):
            kind = FailureKind.TIMEOUT
    elif isinstance(exc, httpx.TooManyRedirects):
        kind = FailureKind.REDIRECTS
    elif isinstance(exc, httpx.InvalidURL):
        kind = FailureKind.INVALID_URL
    elif isinstance(exc, httpx.DecodingError):
        kind = FailureKind.DECODING
    elif isinstance(exc, httpx.StreamError):
        kind = FailureKind.STREAM
    return NetworkFailure(kind, name, detail, transient)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception under it: causes, contexts, and members of groups (each once)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        stack.extend((current.__cause__, current.__context__))


def api_client() -> httpx.AsyncClient:
    """The client for LLM providers and search (no timeout of its own: callers set deadlines). Its TLS
    context is made on the first request, not here: loading certifi's roots costs tens of ms of CPU,
    and chat opens this client before its first prompt."""
    return httpx.AsyncClient(timeout=None, transport=_FirstUseTransport())


class _FirstUseTransport(httpx.AsyncBaseTransport):
    """httpx's default transport (verify, trust_env and limits as AsyncClient's own), made when first used."""

    def __init__(self) -> None:
        self._transport: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport()
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
