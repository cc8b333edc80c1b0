"""The URL policy against bypass attempts: the table in policy_cases.py, a WHATWG parser as an oracle
(hypothesis), the system resolver's failure modes, and a few `chat -n` runs for the wiring."""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright._impl._driver import compute_driver_executable

from gptme_trio.core.errors import ToolError
from gptme_trio.core.policy import UrlPolicy, host_of, resolve
from tests.support.policy_cases import CASES, DNS, PUBLIC_V4, FakeDNS

from .conftest import cli_command, cli_env


async def outcome(url: str, allow=(), dns: FakeDNS | None = None) -> tuple[str, str]:
    try:
        await UrlPolicy(allow, dns or FakeDNS()).check(url)
    except ToolError as exc:
        return "refused", str(exc)
    return "allowed", ""


@pytest.mark.parametrize("case", CASES, ids=[f"{c.expected}:{c.why}" for c in CASES])
async def test_attempt(case):
    dns = FakeDNS()
    got, message = await outcome(case.url, case.allow, dns)
    assert (got, case.reason in message) == (case.expected, True), message
    if got == "refused":
        assert "\n" not in message and message.startswith(("refused: ", "DNS lookup failed"))


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/", "http://0x7f.1/", "http://[::1]/", "http://LocalHost./", "http://a.localhost/"]
)
async def test_literals_and_localhost_never_reach_the_resolver(url):
    dns = FakeDNS({})
    assert (await outcome(url, dns=dns))[0] == "refused" and dns.asked == []


async def test_the_resolver_sees_the_name_the_browser_would_look_up():
    dns = FakeDNS()
    for url in ("http://REBIND.test./x", "http://bücher.example/", "http://x@public.example:81\\@y/"):
        await outcome(url, dns=dns)
    assert dns.asked == ["rebind.test", "xn--bcher-kva.example", "public.example"]
    allowed = FakeDNS()
    assert await outcome("http://rebind.test/", ("Rebind.Test",), allowed) == ("allowed", "")
    assert allowed.asked == []  # the user's word: no lookup


class TableResolver(trio.abc.HostnameResolver):
    """Trio's own resolver hook: the real `resolve()` runs, nothing leaves the machine."""

    def __init__(self) -> None:
        self.asked: list[bytes] = []

    async def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        self.asked.append(host)
        answers = DNS.get(host.decode())
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, type, 6, "", (a, 0)) for a in answers]

    async def getnameinfo(self, sockaddr, flags):  # pragma: no cover - unused
        raise NotImplementedError


async def test_the_system_resolver_path_maps_every_failure_to_a_refusal():
    table = TableResolver()
    trio.socket.set_custom_hostname_resolver(table)  # a RunVar: this test's run only
    assert await resolve("public.example") == [PUBLIC_V4]
    policy = UrlPolicy()
    await policy.check("http://public.example/")
    for url, words in [
        ("http://rebind.test/", "local or private address (10.0.0.5)"),
        ("http://dual.test/", "local or private address (10.0.0.5)"),
        ("http://nxdomain.test/", "DNS lookup failed for nxdomain.test"),
        ("http://" + "a" * 64 + ".test/", "DNS lookup failed"),  # the IDNA codec refuses it before any lookup
        ("http://a..b.test/", "DNS lookup failed"),
    ]:
        with pytest.raises(ToolError, match=words.replace("(", r"\(").replace(")", r"\)")):
            await policy.check(url)
    assert all(b"aaaa" not in host and b".." not in host for host in table.asked)


# A WHATWG URL parser (Node's, shipped with Playwright's driver) says which host a browser connects to.


@pytest.fixture(scope="module")
def whatwg():
    node, _ = compute_driver_executable()
    script = (
        "require('readline').createInterface({input: process.stdin}).on('line', line => {"
        " let out; try { const u = new URL(JSON.parse(line)); out = {protocol: u.protocol, host: u.hostname} }"
        " catch (e) { out = {invalid: true} } process.stdout.write(JSON.stringify(out) + '\\n') })"
    )
    proc = subprocess.Popen([node, "-e", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def parse(url: str) -> dict:
        stdin.write(json.dumps(url) + "\n")
        stdin.flush()
        return json.loads(stdout.readline())

    yield parse
    stdin.close()
    proc.wait(timeout=10)


def ipv4_forms(n: int) -> st.SearchStrategy[str]:
    """`n` written in the forms a browser accepts: 1 to 4 parts, each decimal, octal or hex."""

    def render(parts: int, radixes: list[str], dot: bool) -> str:
        values = [(n >> (8 * (3 - i))) & 0xFF for i in range(parts - 1)] + [n & ((1 << (8 * (5 - parts))) - 1)]
        text = [{"d": str(v), "o": "0" + format(v, "o"), "x": "0x" + format(v, "x"), "X": "0X" + format(v, "X")}[r]
                for v, r in zip(values, radixes, strict=False)]  # fmt: skip
        return ".".join(text) + ("." if dot else "")

    return st.builds(
        render, st.integers(1, 4), st.lists(st.sampled_from("doxX"), min_size=4, max_size=4), st.booleans()
    )


SPECIAL = [
    *(c.url.split("//", 1)[-1].split("/", 1)[0] for c in CASES if c.url.startswith("http")),
    "localhost",
    "public.example",
    "rebind.test",
    "dual.test",
]
HOSTS = st.one_of(
    st.integers(0, 2**32 - 1).flatmap(ipv4_forms),
    st.sampled_from([0, 0x7F000001, 0x0A000005, 0xA9FEA9FE, 0xC0A80001, 0xAC100001]).flatmap(ipv4_forms),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    st.ip_addresses(v=4).map(lambda a: f"[::ffff:{a}]"),
    st.sampled_from(SPECIAL),
    st.text("0123456789abcdefx.:%[]@\\/#?１２７。", max_size=16),
)
URLS = st.builds(
    lambda scheme, sep, user, host, port, path: f"{scheme}{sep}{user}{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTP", "hTtPs", "file", "ftp", "javascript", ""]),
    st.sampled_from(["://", ":/", ":", ":\\\\", "://\\", ":///", "//"]),
    st.sampled_from(["", "public.example@", "a:b@", "x\\@", "@", "a@b@", "%40@", "127.0.0.1@"]),
    HOSTS,
    st.sampled_from(["", ":80", ":", ":99999", ":8080"]),
    st.sampled_from(["", "/", "/a?b#c", "\\x", "?@127.0.0.1", "#@127.0.0.1", "/@127.0.0.1", "\\@public.example/"]),
)
PROPERTIES = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def browser_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@PROPERTIES
@given(url=URLS)
def test_the_policy_checks_the_host_the_browser_connects_to(whatwg, url):
    browser = whatwg(url)
    try:
        ours = host_of(url)
    except ToolError:
        return  # refused: the browser never goes anywhere
    if browser.get("invalid"):
        return  # the browser will not navigate at all
    assert browser["protocol"] in ("http:", "https:"), (url, browser)
    theirs = browser["host"]
    if (address := browser_address(theirs)) is not None:
        assert browser_address(ours) == address, (url, ours, theirs)
    else:
        assert ours == (theirs[:-1] if theirs.endswith(".") else theirs), (url, ours, theirs)


@PROPERTIES
@given(url=URLS, allow=st.lists(st.sampled_from(["127.0.0.1", "localhost", "[::1]", "public.example"]), max_size=2))
def test_any_url_is_refused_or_allowed_never_an_exception(whatwg, url, allow):
    got, message = trio.run(outcome, url, allow, FakeDNS())
    assert got == "allowed" or message.startswith(("refused: ", "DNS lookup failed")), message
    if got == "refused":
        return
    host = whatwg(url).get("host", "")  # none: the browser will not navigate
    address = browser_address(host)
    if address is not None and address not in {browser_address(a) for a in allow}:
        assert (getattr(address, "ipv4_mapped", None) or address).is_global, (url, host)
    if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
        assert "localhost" in allow, (url, host)


# End to end: the model picks the URLs, `chat -n` runs them through the real tools and Chromium.


def chat(home: Path, server, *args: str) -> subprocess.CompletedProcess:
    env = cli_env(GPTME_TRIO_HOME=str(home), **server.env("local"))
    command = cli_command("chat", "-n", "-m", "local/test-model", *args)
    return subprocess.run(command, capture_output=True, timeout=120, env=env, stdin=subprocess.DEVNULL)


def tool_results(server) -> list[str]:
    return [m["content"] for m in server.requests()[1]["body"]["messages"] if m.get("role") == "tool"]


@pytest.fixture
def redirector(site):
    """A 127.0.0.1 server whose pages redirect elsewhere: to `localhost` (same site, another host) or file://."""
    port = site.base.rsplit(":", 1)[1]
    targets = {"/to-localhost": f"http://localhost:{port}/normal", "/to-file": "file:///etc/passwd"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", targets.get(self.path, "/"))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_chat_refuses_parser_tricks_and_malformed_urls_without_crashing(llm, site, tmp_path):
    port = site.base.rsplit(":", 1)[1]
    urls = [
        f"http://127.0.0.1:{port}\\@localhost/normal",  # Python's parser reads host "localhost" (allowed)
        "http://[::1/",  # urlsplit raised ValueError out of the tool before
        "http://" + "a" * 64 + ".example/",  # the IDNA codec raised UnicodeError before
        f"http://LocalHost:{port}/normal",  # allowed (no name here may ever reach the system resolver)
    ]
    server = llm([{"tool_calls": [{"name": "read_url", "arguments": {"url": u}} for u in urls]}, {"text": "ok"}])
    result = chat(tmp_path / "home", server, "--allow-hosts", "localhost", "--tool-timeout", "20", "go")
    assert result.returncode == 0 and result.stdout == b"ok\n", result.stderr
    backslash, bracket, label, allowed = tool_results(server)
    assert backslash.startswith("error: refused: 127.0.0.1 is a local or private address"), backslash
    assert bracket.startswith("error: refused: malformed URL"), bracket
    assert label.startswith("error: DNS lookup failed"), label
    assert "Structured concurrency means" in allowed, allowed


def test_chat_refuses_redirects_from_an_allowed_host_to_a_refused_one(llm, redirector, tmp_path):
    urls = [f"{redirector}/to-localhost", f"{redirector}/to-file"]
    server = llm([{"tool_calls": [{"name": "read_url", "arguments": {"url": u}} for u in urls]}, {"text": "ok"}])
    home = tmp_path / "home"
    result = chat(home, server, "--allow-hosts", "127.0.0.1", "--tool-timeout", "20", "go")
    assert result.returncode == 0, result.stderr
    to_localhost, to_file = tool_results(server)
    assert to_localhost.startswith("error: refused by the URL policy: http://localhost:"), to_localhost
    assert "localhost is a local or private address" in to_localhost
    assert to_file.startswith("error: ") and "root:" not in to_file, to_file
    [log] = (home / "conversations").glob("*/conversation.jsonl")
    assert "Structured concurrency means" not in log.read_text()  # the refused page's text never got in


def test_a_refused_redirect_target_is_never_requested(llm, redirector, site, tmp_path):
    def hits() -> int:
        with urllib.request.urlopen(site.url("/hits")) as response:
            return json.load(response).get("/normal", 0)

    before = hits()
    call = {"name": "read_url", "arguments": {"url": f"{redirector}/to-localhost"}}
    server = llm([{"tool_calls": [call]}, {"text": "ok"}])
    assert chat(tmp_path / "home", server, "--allow-hosts", "127.0.0.1", "go").returncode == 0
    [result] = tool_results(server)
    assert result.startswith("error: refused") and "localhost" in result
    assert hits() == before
