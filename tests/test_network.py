"""core/network.py: every httpx failure is described once, against real servers on 127.0.0.1 that
refuse, reset, close, stall, or answer garbage (HTTP or TLS); and each caller words the description
as its own error (the http engine, search, the LLM stream)."""

from __future__ import annotations

import functools
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import trio

from gptme_trio.core.errors import NavigationError, ProviderError, ToolError
from gptme_trio.core.network import FailureKind, NetworkFailure, network_errors
from gptme_trio.fetch.engines.http import HttpEngine
from gptme_trio.fetch.targets import Target
from gptme_trio.llm.retry import RetryPolicy
from gptme_trio.llm.sse import SSERequest, stream_reply
from gptme_trio.tools.search import WebSearch

Handler = Callable[[trio.SocketStream], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 running `handler` for each connection; yields its address."""
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        yield f"127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        nursery.cancel_scope.cancel()


async def reset(stream: trio.SocketStream) -> None:
    """Read the request, then reset the connection (SO_LINGER 0: an RST, not a FIN)."""
    await stream.receive_some(65536)
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


async def close(stream: trio.SocketStream) -> None:
    """Read the request, then close without a word."""
    await stream.receive_some(65536)
    await stream.aclose()


async def stall(stream: trio.SocketStream) -> None:
    """Read the request, then never answer."""
    await stream.receive_some(65536)
    await trio.sleep_forever()


def answer(data: bytes) -> Handler:
    async def handler(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        await stream.send_all(data)
        await stream.aclose()

    return handler


GARBAGE = b"\x00this is neither HTTP nor TLS\r\n\r\n" * 8
REDIRECT_LOOP = b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
BAD_GZIP = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot gzip!"


async def failure_of(url: str, client: httpx.AsyncClient | None = None) -> NetworkFailure:
    """The NetworkFailure a GET of `url` is mapped to (the test fails if there is none)."""
    seen: list[NetworkFailure] = []

    def keep(failure: NetworkFailure) -> Exception:
        seen.append(failure)
        return ToolError("mapped")

    async with client or httpx.AsyncClient() as http:
        with pytest.raises(ToolError, match="^mapped$") as caught, network_errors(keep):
            (await http.get(url)).read()
    assert isinstance(caught.value.__cause__, httpx.HTTPError | httpx.InvalidURL)  # raised from httpx's
    [failure] = seen
    return failure


async def test_refused(free_port):
    failure = await failure_of(f"http://127.0.0.1:{free_port}/")
    assert (failure.kind, failure.reason, failure.transient) == (FailureKind.REFUSED, "connection refused", True)


async def test_reset_while_reading_the_response():
    async with raw_server(reset) as where:
        failure = await failure_of(f"http://{where}/")
    assert (failure.kind, failure.name, failure.transient) == (FailureKind.NETWORK, "ReadError", True)
    assert "reset by peer" in failure.detail and failure.reason.startswith("network error (ReadError: ")


async def test_reset_during_the_tls_handshake():
    async with raw_server(reset) as where:
        failure = await failure_of(f"https://{where}/")
    assert (failure.kind, failure.transient) == (FailureKind.CONNECT, True)
    assert failure.reason.startswith("connection failed (") and "reset by peer" in failure.reason


async def test_closed_without_an_answer():
    async with raw_server(close) as where:
        failure = await failure_of(f"http://{where}/")
    assert (failure.kind, failure.transient) == (FailureKind.CLOSED, True)
    assert failure.reason == "connection closed by the server (Server disconnected without sending a response.)"


async def test_garbage_instead_of_http():
    async with raw_server(answer(GARBAGE)) as where:
        failure = await failure_of(f"http://{where}/")
    assert (failure.kind, failure.name) == (FailureKind.CLOSED, "RemoteProtocolError")
    assert failure.reason.startswith("connection closed by the server (illegal status line")


async def test_garbage_instead_of_tls():
    async with raw_server(answer(GARBAGE)) as where:
        failure = await failure_of(f"https://{where}/")
    assert (failure.kind, failure.transient) == (FailureKind.TLS, True)
    assert failure.reason == "TLS error (WRONG_VERSION_NUMBER)" == failure.connect_reason


async def test_a_certificate_nobody_vouches_for(site):
    failure = await failure_of(site.tls_base + "/normal")
    assert failure.kind is FailureKind.TLS and "certificate" in failure.reason


async def test_an_httpx_timeout():
    async with raw_server(stall) as where:
        failure = await failure_of(f"http://{where}/", httpx.AsyncClient(timeout=0.2))
    assert (failure.kind, failure.name, failure.transient) == (FailureKind.TIMEOUT, "ReadTimeout", True)


async def test_a_name_that_does_not_resolve():
    class NoSuchName(trio.abc.HostnameResolver):
        async def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        async def getnameinfo(self, sockaddr, flags):  # pragma: no cover - unused
            raise NotImplementedError

    trio.socket.set_custom_hostname_resolver(NoSuchName())  # a RunVar: this test's run only
    failure = await failure_of("http://nowhere.test/")
    assert (failure.kind, failure.reason, failure.transient) == (FailureKind.DNS, "DNS lookup failed", True)


async def test_a_redirect_loop():
    async with raw_server(answer(REDIRECT_LOOP)) as where:
        failure = await failure_of(f"http://{where}/", httpx.AsyncClient(follow_redirects=True, max_redirects=3))
    assert (failure.kind, failure.reason, failure.transient) == (FailureKind.REDIRECTS, "too many redirects", False)


async def test_an_invalid_url():
    failure = await failure_of("http://[::1/")
    assert (failure.kind, failure.reason, failure.transient) == (
        FailureKind.INVALID_URL,
        "invalid URL (Invalid port: ':1')",
        False,
    )


async def test_a_body_that_does_not_decode():
    async with raw_server(answer(BAD_GZIP)) as where:
        failure = await failure_of(f"http://{where}/")
    assert (failure.kind, failure.name, failure.transient) == (FailureKind.DECODING, "DecodingError", False)


async def test_a_stream_read_after_it_was_closed():
    seen: list[NetworkFailure] = []
    async with (
        raw_server(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")) as where,
        httpx.AsyncClient() as client,
    ):
        async with client.stream("GET", f"http://{where}/") as response:
            pass
        with network_errors(seen.append):  # list.append returns None: the failure is swallowed
            await response.aread()
    assert [(f.kind, f.name) for f in seen] == [(FailureKind.STREAM, "StreamClosed")]


async def test_other_exceptions_pass_through_untouched():
    with pytest.raises(KeyError), network_errors(lambda failure: ToolError("never")):
        raise KeyError("not a network failure")
    with pytest.raises(trio.TooSlowError), trio.fail_after(0.01), network_errors(lambda failure: None):
        await trio.sleep_forever()  # a deadline (Cancelled) is never swallowed


# The callers: each words the same failure its own way.


async def test_the_http_engine_words_it_as_a_navigation_error():
    async with raw_server(close) as where, httpx.AsyncClient() as client:
        url = f"http://{where}/"
        with pytest.raises(NavigationError) as caught:
            await HttpEngine(client).snapshot(Target(url, url))
    assert caught.value.url == url
    assert str(caught.value) == "connection closed by the server (Server disconnected without sending a response.)"


async def test_search_words_it_as_a_tool_error():
    async with raw_server(close) as where, httpx.AsyncClient() as client:
        search = WebSearch(client, "searxng", f"http://{where}")
        with pytest.raises(ToolError) as caught:
            await search.search("trio")
    assert str(caught.value) == f"search engine unreachable: connection closed by the server (http://{where}/search)"


async def test_the_llm_stream_words_it_as_a_provider_error():
    async with raw_server(close) as where, httpx.AsyncClient() as client:
        request = SSERequest(provider="openai", origin=f"http://{where}/v1", url=f"http://{where}/v1/chat", body={})
        with pytest.raises(ProviderError) as caught:
            await stream_reply(client, request, lambda: None, lambda event: None, RetryPolicy(delays=()))  # type: ignore[arg-type,return-value]
    expected = f"cannot reach http://{where}/v1: RemoteProtocolError: Server disconnected without sending a response."
    assert str(caught.value) == expected
