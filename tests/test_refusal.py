"""A refusal by the URL policy carries its reason as data (`Refusal`): its kind and fields for every
kind, the exact words each renders, and the policy proxy and the web tool reading the data, never
the message."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import httpx
import pytest

from gptme_trio.core.errors import AddressClass, LookupFailed, Refusal, RefusalKind, Refused, ToolError
from gptme_trio.core.policy import UrlPolicy, address_class
from gptme_trio.core.proxy import ERROR_HEADER, REFUSED_HEADER, open_policy_proxy
from gptme_trio.tools.web import WebTools
from tests.support.policy_cases import FakeDNS

K = RefusalKind
ip = ipaddress.ip_address


async def refusal_of(url: str, allow: tuple[str, ...] = ()) -> Refused:
    with pytest.raises(Refused) as caught:
        await UrlPolicy(allow, FakeDNS()).check(url)
    return caught.value


@pytest.mark.parametrize(
    ("url", "expected", "message"),
    [
        (
            "file:///etc/passwd",
            Refusal(K.SCHEME, url="file:///etc/passwd", scheme="file"),
            "refused: only http(s) URLs may be opened, not file: file:///etc/passwd",
        ),
        (
            "javascript alert(1)",
            Refusal(K.SCHEME, url="javascript alert(1)", scheme="this"),
            "refused: only http(s) URLs may be opened, not this: javascript alert(1)",
        ),
        (
            "http://[::1/",
            Refusal(K.MALFORMED_URL, url="http://[::1/", detail="Invalid IPv6 URL"),
            "refused: malformed URL (Invalid IPv6 URL): http://[::1/",
        ),
        ("http:///etc/passwd", Refusal(K.NO_HOST, url="http:///etc/passwd"), "refused: no host in http:///etc/passwd"),
        (
            "http://256.0.0.1/",
            Refusal(K.MALFORMED_HOST, url="http://256.0.0.1/", detail="IPv4 address out of range"),
            "refused: malformed host in http://256.0.0.1/ (IPv4 address out of range)",
        ),
        ("http://nxdomain.test/", Refusal(K.LOOKUP, host="nxdomain.test"), "DNS lookup failed for nxdomain.test"),
        ("http://empty.test/", Refusal(K.NO_ADDRESS, host="empty.test"), "refused: empty.test has no address"),
        (
            "http://garbage.test/",
            Refusal(K.NOT_AN_ADDRESS, host="garbage.test", answers=("not-an-address",)),
            "refused: garbage.test resolved to something that is not an address: ['not-an-address']",
        ),
        (
            "http://rebind.test/x",
            Refusal(K.ADDRESS, host="rebind.test", address=ip("10.0.0.5"), address_class=AddressClass.PRIVATE),
            "refused: rebind.test is a local or private address (10.0.0.5); the user can allow it with --allow-hosts",
        ),
    ],
    ids=lambda value: value.kind.value if isinstance(value, Refusal) else None,
)
async def test_each_kind_carries_its_fields_and_renders_its_words(url, expected, message):
    refused = await refusal_of(url)
    assert refused.refusal == expected
    assert str(refused) == expected.message == message
    assert expected.reason == message.removeprefix("refused: ").removesuffix(
        "; the user can allow it with --allow-hosts"
    )
    assert isinstance(refused, LookupFailed) == (expected.kind in (K.LOOKUP, K.NO_ADDRESS))
    assert isinstance(refused, ToolError)


@pytest.mark.parametrize(
    ("host", "address", "kind"),
    [
        ("127.0.0.1", "127.0.0.1", AddressClass.LOOPBACK),
        ("2130706433", "127.0.0.1", AddressClass.LOOPBACK),  # decimal: the field holds the canonical address
        ("[::1]", "::1", AddressClass.LOOPBACK),
        ("localhost", "127.0.0.1", AddressClass.LOOPBACK),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1", AddressClass.LOOPBACK),  # by its embedded IPv4 address
        ("[2002:a9fe:a9fe::]", "2002:a9fe:a9fe::", AddressClass.LINK_LOCAL),  # 6to4 of 169.254.169.254
        ("nat64.test", "64:ff9b::a00:5", AddressClass.PRIVATE),  # NAT64 of 10.0.0.5
        ("10.0.0.1", "10.0.0.1", AddressClass.PRIVATE),
        ("[fd00:ec2::254]", "fd00:ec2::254", AddressClass.PRIVATE),
        ("169.254.169.254", "169.254.169.254", AddressClass.LINK_LOCAL),
        ("[fe80::1]", "fe80::1", AddressClass.LINK_LOCAL),
        ("224.0.0.1", "224.0.0.1", AddressClass.MULTICAST),
        ("[ff02::1]", "ff02::1", AddressClass.MULTICAST),
        ("0.0.0.0", "0.0.0.0", AddressClass.UNSPECIFIED),
        ("[::]", "::", AddressClass.UNSPECIFIED),
        ("240.0.0.1", "240.0.0.1", AddressClass.RESERVED),
        ("100.64.0.1", "100.64.0.1", AddressClass.NOT_GLOBAL),  # carrier-grade NAT: neither private nor global
    ],
)
async def test_an_address_refusal_names_the_address_and_its_class(host, address, kind):
    refusal = (await refusal_of(f"http://{host}/")).refusal
    assert (refusal.kind, refusal.address, refusal.address_class) == (K.ADDRESS, ip(address), kind)
    assert address_class(ip(address)) is kind


async def test_an_allowed_host_with_one_bad_answer_is_still_refused_by_its_data():
    refusal = (await refusal_of("http://dual.test/")).refusal
    assert (refusal.host, refusal.address, refusal.address_class) == ("dual.test", ip("10.0.0.5"), AddressClass.PRIVATE)


class Refusing(UrlPolicy):
    """A policy whose refusals say one thing as data and something else as text: whoever reads the
    text instead of the data shows the wrong words."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__()
        self.refusal = refusal

    def refused(self) -> Refused:
        exc = LookupFailed(self.refusal) if self.refusal.kind in (K.LOOKUP, K.NO_ADDRESS) else Refused(self.refusal)
        exc.args = ("refused: words nobody may parse; the user can do nothing",)
        return exc

    async def check(self, url: str) -> None:
        raise self.refused()

    async def addresses(self, host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        raise self.refused()


PRIVATE = Refusal(K.ADDRESS, host="intranet.test", address=ip("10.1.2.3"), address_class=AddressClass.PRIVATE)


async def test_the_proxy_sends_the_refusals_reason_from_its_data():
    async with open_policy_proxy(Refusing(PRIVATE)) as proxy, httpx.AsyncClient(proxy=proxy) as client:
        response = await client.get("http://intranet.test/")
    assert response.status_code == 403
    assert response.headers[REFUSED_HEADER] == "intranet.test is a local or private address (10.1.2.3)"


async def test_the_proxy_answers_a_failed_lookup_as_unreachable_not_refused():
    lookup = Refusing(Refusal(K.LOOKUP, host="nowhere.test"))
    async with open_policy_proxy(lookup) as proxy, httpx.AsyncClient(proxy=proxy) as client:
        response = await client.get("http://nowhere.test/")
    assert response.status_code == 502 and response.headers[ERROR_HEADER] == "namenotresolved"
    assert REFUSED_HEADER not in response.headers


async def test_the_web_tools_request_filter_gives_the_browser_the_refusals_reason(browser, tmp_path: Path):
    web = WebTools(browser, Refusing(PRIVATE), tmp_path)
    assert await web.request_filter("http://intranet.test/") == PRIVATE.reason
    assert await web.request_filter("ws://intranet.test/socket") == PRIVATE.reason
    assert await web.request_filter("data:text/plain,hello") is None  # never leaves the browser: not asked
