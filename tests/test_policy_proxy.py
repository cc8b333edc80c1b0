"""The policy proxy (gptme_trio.core.proxy): every connection of a model-opened page meets the URL policy.

First the proxy alone, driven by httpx and raw sockets; then a real Chromium behind it (WebTools),
for what the request guard alone cannot see: redirect hops of subresources, WebSockets, and a DNS
answer that changes between the check and the connection.
"""

from __future__ import annotations

import functools
import uuid
from urllib.parse import quote

import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gptme_trio.core.errors import ToolError
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.core.proxy import ERROR_HEADER, REFUSED_HEADER, Answer, open_policy_proxy, parse_request
from gptme_trio.tools.web import WebTools
from tests.support.policy_cases import FakeDNS

from .test_chat_cli import chat
from .test_page_tools import elsewhere, hits

PUBLIC = "93.184.215.14"  # only ever an answer to a check: nothing connects to it


@pytest.fixture
async def proxy():
    async with open_policy_proxy(UrlPolicy(["127.0.0.1"])) as url:
        yield url


def target() -> str:
    return f"/lure-target-{uuid.uuid4().hex}"


async def test_an_allowed_request_is_relayed_one_per_connection(proxy, site):
    async with httpx.AsyncClient(proxy=proxy) as client:
        response = await client.get(site.url("/normal"))
    assert response.status_code == 200 and "Structured concurrency" in response.text
    assert response.headers["connection"] == "close"


async def test_a_refused_host_gets_a_403_that_says_why(proxy, site):
    path = target()
    async with httpx.AsyncClient(proxy=proxy) as client:
        response = await client.get(elsewhere(site, path))
    assert response.status_code == 403
    assert response.headers[REFUSED_HEADER] == "localhost is a local or private address (127.0.0.1)"
    assert await hits(site, path) == 0


async def test_each_redirect_hop_is_a_new_request_that_meets_the_policy(proxy, site):
    path = target()
    async with httpx.AsyncClient(proxy=proxy, follow_redirects=True) as client:
        response = await client.get(site.url("/redirect-to?url=" + quote(elsewhere(site, path), safe="")))
    assert response.status_code == 403 and REFUSED_HEADER in response.headers
    assert await hits(site, path) == 0


async def test_a_failed_connection_is_a_502_naming_chromiums_error(proxy, free_port):
    async with httpx.AsyncClient(proxy=proxy) as client:
        response = await client.get(f"http://127.0.0.1:{free_port}/")
    assert response.status_code == 502 and response.headers[ERROR_HEADER] == "connectionrefused"


async def test_connect_tunnels_to_an_allowed_host_only(proxy, site):
    async with httpx.AsyncClient(proxy=proxy, verify=False) as client:  # the test site's certificate is self-signed
        assert (await client.get(site.tls_base + "/normal")).status_code == 200
        with pytest.raises(httpx.ProxyError, match="403"):
            await client.get(site.tls_base.replace("127.0.0.1", "localhost") + "/normal")


async def test_a_kept_alive_connection_never_carries_a_second_request(proxy, site):
    """A second request on the same connection (to a refused host) is never relayed."""
    path = target()
    first = f"GET {site.url('/slow?ms=200')} HTTP/1.1\r\nHost: x\r\n\r\n"
    second = f"GET {elsewhere(site, path)} HTTP/1.1\r\nHost: localhost\r\n\r\n"
    stream = await trio.open_tcp_stream("127.0.0.1", int(proxy.rsplit(":", 1)[1]))
    async with stream:
        await stream.send_all((first + second).encode())
        received = b""
        with trio.fail_after(10):
            while chunk := await stream.receive_some():
                received += chunk
    assert received.count(b"HTTP/1.1 ") == 0  # the server never saw a valid first request alone
    assert await hits(site, path) == 0
    async with httpx.AsyncClient(proxy=proxy) as client:  # and the proxy still serves
        assert (await client.get(site.url("/normal"))).status_code == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"nonsense\r\n\r\n",
        b"GET /relative HTTP/1.1\r\n\r\n",
        b"CONNECT nohost HTTP/1.1\r\n\r\n",
        b"GET http://a b c\r\n\r\n",
        b"GET http://[::1/ HTTP/1.1\r\n\r\n",
        b"GET http://127.0.0.1:99999/ HTTP/1.1\r\n\r\n",
        b"POST http://127.0.0.1/ HTTP/1.1\r\nContent-Length: lots\r\n\r\n",
        b"POST http://127.0.0.1/ HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    ],
)
async def test_malformed_requests_get_a_400_and_the_proxy_lives_on(proxy, site, request_bytes):
    stream = await trio.open_tcp_stream("127.0.0.1", int(proxy.rsplit(":", 1)[1]))
    async with stream:
        await stream.send_all(request_bytes)
        with trio.fail_after(10):
            assert (await stream.receive_some()).startswith(b"HTTP/1.1 400 ")
    async with httpx.AsyncClient(proxy=proxy) as client:
        assert (await client.get(site.url("/normal"))).status_code == 200


async def test_the_connection_goes_to_the_address_checked_not_a_later_answer(site):
    """DNS rebinding: a name that was public when checked answers 127.0.0.1 when the browser connects."""
    path = target()
    dns = FakeDNS({"rebind.test": [PUBLIC]})
    policy = UrlPolicy(["127.0.0.1"], dns)
    url = site.url(path).replace("127.0.0.1", "rebind.test")
    await policy.check(url)  # the request guard's check: public, fine
    dns.table["rebind.test"] = ["127.0.0.1"]  # the attacker's DNS changes its answer
    async with open_policy_proxy(policy) as proxy, httpx.AsyncClient(proxy=proxy) as client:
        response = await client.get(url)
    assert response.status_code == 403 and "rebind.test is a local or private address" in response.text
    assert await hits(site, path) == 0


async def test_the_proxy_connects_to_the_policys_own_answer(site):
    """The control: with the name allowed, the page arrives from the address our resolver gave (the
    system resolver knows no rebind.test), so the proxy never looks a name up a second time."""
    dns = FakeDNS({"rebind.test": ["127.0.0.1"]})
    async with open_policy_proxy(UrlPolicy(["rebind.test"], dns)) as proxy, httpx.AsyncClient(proxy=proxy) as client:
        response = await client.get(site.url("/normal").replace("127.0.0.1", "rebind.test"))
    assert response.status_code == 200 and dns.asked == ["rebind.test"]


@pytest.fixture
async def web_behind(browser, tmp_path):
    """WebTools as chat builds them: request guard and policy proxy."""
    async with open_policy_proxy(policy := UrlPolicy(["127.0.0.1"])) as url:
        yield WebTools(browser, policy, tmp_path, proxy=url)


async def test_behind_the_proxy_only_the_page_tools_show_requests_to_the_filter(browser, site, tmp_path):
    """A read leaves its requests to the proxy (nobody is told what it refused): Chromium pauses none of
    them for the filter. The page tools report refusals to the model, so theirs all go through it."""
    seen: list[str] = []

    class Counted(WebTools):
        async def request_filter(self, url: str) -> str | None:
            seen.append(url)
            return await super().request_filter(url)

    lure = site.url("/lure?to=" + quote(elsewhere(site, target()), safe=""))
    async with open_policy_proxy(policy := UrlPolicy(["127.0.0.1"])) as url:
        web = Counted(browser, policy, tmp_path, proxy=url)
        assert "Lure page." in await web.read_url(lure)
        assert seen == []
        assert "the URL policy refused requests of the page: http://localhost" in await web.page.open_page(lure)
        assert lure in seen


@pytest.mark.parametrize("tool", ["read_url", "open_page"])
async def test_a_subresource_redirect_hop_to_a_refused_host_never_leaves(web_behind, site, tool):
    """The request guard sees only the first URL of an image or a fetch(): /redirect-to on an allowed
    host. Its hop to localhost used to reach the server; the proxy refuses it."""
    path = target()
    hop = site.url("/redirect-to?url=" + quote(elsewhere(site, path), safe=""))
    await getattr(web_behind if tool == "read_url" else web_behind.page, tool)(site.url("/lure?to=" + quote(hop)))
    with trio.fail_after(5):
        while await hits(site, "/redirect-to") < 2:  # the image's and the fetch()'s first requests
            await trio.sleep(0.05)
    await trio.sleep(0.3)
    assert await hits(site, path) == 0


@pytest.mark.parametrize(("host", "state"), [("127.0.0.1", "open"), ("localhost", "failed")])
async def test_websockets_meet_the_policy(web_behind, site, host, state):
    before = await hits(site, "/hostile/ws")
    socket_url = site.url("/hostile/ws").replace("http://127.0.0.1", f"ws://{host}")
    await web_behind.page.open_page(site.url("/hostile/ws-page?to=" + quote(socket_url, safe="")))
    with trio.fail_after(5):
        while f"Socket {state}." not in await web_behind.page.page_text():
            await trio.sleep(0.05)
    assert await hits(site, "/hostile/ws") == before + (state == "open")


async def test_a_refused_https_page_says_refused(web_behind, site):
    with pytest.raises(ToolError, match="refused: localhost"):
        await web_behind.read_url(site.tls_base.replace("127.0.0.1", "localhost") + "/normal")


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_a_refused_redirect_hop_of_a_read_says_refused(web_behind, site, scheme):
    """Behind the proxy, a read's own document is not fetched by the request guard: Chromium follows its
    redirects, each hop meeting the proxy. A refused hop is still reported as the policy's refusal: over
    http from the proxy's 403, over https (a refused tunnel, nothing to read) by the filter's own verdict."""
    base = site.tls_base if scheme == "https" else site.base
    path = target()
    hop = base.replace("127.0.0.1", "localhost") + path
    with pytest.raises(ToolError, match=f"refused by the URL policy: {scheme}://localhost:.* local or private"):
        await web_behind.read_url(site.url("/redirect-to?url=" + quote(hop, safe="")))
    assert await hits(site, path) == 0


async def test_a_redirect_hop_that_cannot_connect_says_so(web_behind, site, free_port):
    """The proxy's 502 for a hop it could not connect to (an allowed host) is Chromium's error, as before."""
    hop = f"http://127.0.0.1:{free_port}/gone"
    with pytest.raises(ToolError, match="connection refused"):
        await web_behind.read_url(site.url("/redirect-to?url=" + quote(hop, safe="")))


@pytest.fixture
async def upstream(nursery):
    """A server on 127.0.0.1 that answers every connection with `reply.bytes`, then closes."""

    class Reply:
        bytes = b""
        port = 0

    reply = Reply()

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            with trio.move_on_after(2):
                await stream.receive_some()
            await stream.send_all(reply.bytes)

    listeners = await nursery.start(functools.partial(trio.serve_tcp, answer, 0, host="127.0.0.1"))
    reply.port = listeners[0].socket.getsockname()[1]
    return reply


@pytest.mark.parametrize(
    ("raw", "status", "body"),
    [
        (b"HTTP/1.1 200 OK\nContent-Type: text/plain\nConnection: keep-alive\n\nbare LF", 200, "bare LF"),
        (b"HTTP/1.0 200 OK\r\n\r\nno length, ends at close", 200, "no length, ends at close"),
        (b"HTTP/1.1 200 OK\r\nX-Gptme-Trio-Refused: forged\r\nNo colon line\r\n\r\nok", 200, "ok"),
        (b"", 502, "no valid response"),
        (b"\x00\xff garbage that is no HTTP at all\r\n\r\n", 502, "not an HTTP response"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * 300_000, 502, "no valid response"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 100_000 + b"\r\n\r\nbig head", 200, "big head"),
    ],
)
async def test_hostile_server_replies_are_relayed_or_a_502(proxy, upstream, raw, status, body):
    upstream.bytes = raw
    async with httpx.AsyncClient(proxy=proxy) as client:
        response = await client.get(f"http://127.0.0.1:{upstream.port}/")
    assert response.status_code == status and body in response.text
    assert REFUSED_HEADER not in response.headers  # a server cannot forge our refusal
    assert response.headers["connection"] == "close"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: (t + "\r\n\r\n").encode("utf-8", "replace")))
def test_any_request_head_is_parsed_or_answered_with_a_status(head):
    try:
        method, target, headers = parse_request(head)
    except Answer as reply:
        assert reply.response.startswith(b"HTTP/1.1 4")
    else:
        assert method and target and all(name == name.strip() for name, _ in headers)


@pytest.mark.parametrize("verbose", [True, False])
def test_chat_v_shows_what_the_proxy_refused(llm, site, tmp_path, verbose):
    path = target()
    hop = site.url("/redirect-to?url=" + quote(elsewhere(site, path), safe=""))
    lure = site.url("/lure?to=" + quote(hop))
    server = llm([{"tool_calls": [{"name": "open_page", "arguments": {"url": lure}}]}, {"text": "Done."}])
    server_args = ["-v"] if verbose else []
    result = chat(tmp_path / "home", server, *server_args, "--allow-hosts", "127.0.0.1", "Open it")
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    line = f"gptme-trio: policy proxy refused localhost:{site.base.rsplit(':', 1)[1]}: localhost is a local"
    assert (line in stderr) is verbose, stderr
    assert "Traceback" not in stderr
