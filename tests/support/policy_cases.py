"""URL-policy attempts: one table for tests/test_policy.py and bench/policy_bench.py.

Each case is a URL a model might choose, the hosts the user allowed, and whether
`UrlPolicy.check` must refuse or allow it. Names resolve through `FakeDNS` (a table,
no network), so "public-looking name -> private address" attacks are reproducible.
The bench imports this module as `tests.policy_cases` (the repo root on sys.path):
the tests must not depend on bench/, and bench/ already uses tests/ helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptme_trio.core.errors import LookupFailed, Refusal, RefusalKind

PUBLIC_V4 = "93.184.215.14"  # never contacted: only handed to the policy as a DNS answer
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

DNS: dict[str, list[str]] = {
    "public.example": [PUBLIC_V4],
    "public6.example": [PUBLIC_V6],
    "xn--bcher-kva.example": [PUBLIC_V4],  # bücher.example
    "rebind.test": ["10.0.0.5"],
    "loopback.test": ["127.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "dual.test": [PUBLIC_V4, "10.0.0.5"],  # one public and one private answer
    "dual6.test": [PUBLIC_V6, "::1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "nat64.test": ["64:ff9b::a00:5"],  # 10.0.0.5 behind a NAT64 gateway
    "empty.test": [],
    "garbage.test": ["not-an-address"],
    "localhost.localdomain": ["127.0.0.1"],
}


class FakeDNS:
    """An injectable resolver: answers from `DNS`, records what it was asked."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = DNS if table is None else table
        self.asked: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise LookupFailed(Refusal(RefusalKind.LOOKUP, host=host))
        return list(self.table[host])


@dataclass(frozen=True)
class Case:
    url: str
    expected: str  # "refused" or "allowed"
    why: str  # the attempt, in words (the bench table's first column)
    allow: tuple[str, ...] = ()
    reason: str = ""  # a piece of the refusal message


def refused(url: str, why: str, reason: str = "local or private", allow: tuple[str, ...] = ()) -> Case:
    return Case(url, "refused", why, allow, reason)


def allowed(url: str, why: str, allow: tuple[str, ...] = ()) -> Case:
    return Case(url, "allowed", why, allow)


SCHEME = "only http(s)"
MALFORMED = "malformed"

CASES: list[Case] = [
    # Schemes
    refused("file:///etc/passwd", "file://", SCHEME),
    refused("FILE:///etc/passwd", "file:// upper case", SCHEME),
    refused("file://localhost/etc/passwd", "file:// with a host", SCHEME),
    refused("javascript:fetch('http://127.0.0.1/')", "javascript:", SCHEME),
    refused("data:text/html,<script>location='http://127.0.0.1/'</script>", "data:", SCHEME),
    refused("view-source:http://127.0.0.1/", "view-source:", SCHEME),
    refused("chrome://settings", "chrome://", SCHEME),
    refused("ftp://public.example/", "ftp://", SCHEME),
    refused("//127.0.0.1/", "scheme-relative", SCHEME),
    refused("127.0.0.1", "no scheme", SCHEME),
    refused("file:///etc/passwd", "file:// with 127.0.0.1 allowed", SCHEME, allow=("127.0.0.1",)),
    # Loopback, however written
    refused("http://127.0.0.1/", "127.0.0.1"),
    refused("http://127.255.255.254:8080/", "127/8, another address"),
    refused("http://localhost/", "localhost (never resolved)"),
    refused("http://LOCALHOST/", "LOCALHOST"),
    refused("http://localhost./", "localhost. (trailing dot)"),
    refused("http://app.localhost/", "*.localhost (Chromium maps it to loopback)"),
    refused("http://[::1]/", "[::1]"),
    refused("http://[0:0:0:0:0:0:0:1]/", "[::1] uncompressed"),
    refused("http://0.0.0.0/", "0.0.0.0"),
    refused("http://0/", "0 (= 0.0.0.0)"),
    refused("http://[::]/", "[::]"),
    refused("http://2130706433/", "decimal 2130706433"),
    refused("http://0x7f000001/", "hex 0x7f000001"),
    refused("http://0x7F.1/", "hex, short form 0x7F.1"),
    refused("http://0177.0.0.1/", "octal 0177.0.0.1"),
    refused("http://017700000001/", "octal 017700000001"),
    refused("http://127.1/", "short form 127.1"),
    refused("http://127.0.1/", "short form 127.0.1"),
    refused("http://127.000.000.001/", "zero-padded 127.000.000.001"),
    refused("http://127.0.0.1./", "127.0.0.1. (trailing dot)"),
    refused("http://%31%32%37.0.0.1/", "percent-encoded %31%32%37.0.0.1"),
    refused("http://１２７.０.０.１/", "full-width digits"),
    refused("http://127。0。0。1/", "ideographic full stops"),
    refused("http://[::ffff:127.0.0.1]/", "IPv4-mapped [::ffff:127.0.0.1]"),
    refused("http://[::ffff:7f00:1]/", "IPv4-mapped, hex [::ffff:7f00:1]"),
    refused("http://[::127.0.0.1]/", "IPv4-compatible [::127.0.0.1]"),
    refused("http://[64:ff9b::127.0.0.1]/", "NAT64 [64:ff9b::7f00:1]"),
    refused("http://[2002:7f00:1::]/", "6to4 [2002:7f00:1::]"),
    # Cloud metadata
    refused("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    refused("http://2852039166/", "169.254.169.254 as decimal"),
    refused("http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254 as hex parts"),
    refused("http://169.254.169.254./", "169.254.169.254. (trailing dot)"),
    refused("http://[::ffff:169.254.169.254]/", "169.254.169.254 IPv4-mapped"),
    refused("http://[fd00:ec2::254]/", "AWS IPv6 metadata (ULA)"),
    # Private and other non-global ranges
    refused("http://10.0.0.1/", "10/8"),
    refused("http://10.255.255.255/", "10/8, top"),
    refused("http://172.16.0.1/", "172.16/12, bottom"),
    refused("http://172.31.255.255/", "172.16/12, top"),
    refused("http://192.168.0.1/", "192.168/16"),
    refused("http://100.64.0.1/", "100.64/10 (carrier-grade NAT)"),
    refused("http://198.18.0.1/", "198.18/15 (benchmarking)"),
    refused("http://224.0.0.1/", "multicast"),
    refused("http://240.0.0.1/", "240/4 (reserved)"),
    refused("http://255.255.255.255/", "broadcast"),
    refused("http://[fc00::1]/", "fc00::/7"),
    refused("http://[fdff:ffff::1]/", "fc00::/7, fd half"),
    refused("http://[fe80::1]/", "fe80::/10 (link-local)"),
    refused("http://[febf::1]/", "fe80::/10, top"),
    refused("http://[ff02::1]/", "IPv6 multicast"),
    refused("http://[64:ff9b:1::1]/", "NAT64 local-use 64:ff9b:1::/48"),
    allowed("http://172.15.255.255/", "just below 172.16/12 (public)"),
    allowed("http://172.32.0.1/", "just above 172.16/12 (public)"),
    allowed("http://11.0.0.1/", "just above 10/8 (public)"),
    allowed("http://[2606:4700:4700::1111]/", "a public IPv6 address"),
    allowed("http://[64:ff9b::808:808]/", "NAT64 of a public address"),
    # Userinfo and parser differentials: the policy must see the host Chromium connects to
    refused("http://public.example@127.0.0.1/", "userinfo public.example@127.0.0.1"),
    refused("http://public.example:80@127.0.0.1:8080/", "userinfo with a port"),
    refused("http://a@public.example@127.0.0.1/", "two @"),
    refused("http://127.0.0.1\\@public.example/", "backslash: Chromium reads host 127.0.0.1"),
    refused("http:\\\\127.0.0.1\\", "backslashes for slashes"),
    refused("http://127.0.0.1#@public.example/", "#@ after the host"),
    refused("http://127.0.0.1?@public.example/", "?@ after the host"),
    refused(" http://127.0.0.1/", "leading space"),
    refused("http://127.0.0.1\t/", "tab in the URL"),
    allowed("http://public.example\\@127.0.0.1/", "backslash the other way: host is public.example"),
    allowed("http://127.0.0.1@public.example/", "userinfo 127.0.0.1@public.example"),
    # IPv6 zone ids and malformed hosts: refused, never an exception
    refused("http://[fe80::1%25eth0]/", "IPv6 zone id on link-local", MALFORMED),
    refused("http://[::1%25lo]/", "IPv6 zone id on ::1", MALFORMED),
    refused("http://[2606:4700:4700::1111%25eth0]/", "IPv6 zone id on a public address", MALFORMED),
    refused("http://[::1/", "unclosed [", MALFORMED),
    refused("http://127.0.0.1%2f/", "%2f in the host", MALFORMED),
    refused("http://09.0.0.1/", "invalid octal 09", MALFORMED),
    refused("http://256.0.0.1/", "IPv4 part out of range", MALFORMED),
    refused("http://4294967296/", "IPv4 number out of range", MALFORMED),
    refused("http://1.2.3.4.5/", "five IPv4 parts", MALFORMED),
    refused("http://example.123/", "a name ending in a number", MALFORMED),
    refused("http://a\u200db.example/", "invalid IDN (zero-width joiner)", MALFORMED),
    refused("http:///etc/passwd", "no host", "no host"),
    # Names resolved by a resolver the attacker may control
    allowed("http://public.example/", "a public name"),
    allowed("https://PUBLIC.example./path?q=1#x", "a public name, upper case, trailing dot"),
    allowed("http://bücher.example/", "an IDN (resolved as xn--bcher-kva.example)"),
    refused("http://rebind.test/", "name -> 10.0.0.5"),
    refused("http://REBIND.test./", "name -> 10.0.0.5, upper case, trailing dot"),
    refused("http://loopback.test/", "name -> 127.0.0.1"),
    refused("http://metadata.test/", "name -> 169.254.169.254"),
    refused("http://dual.test/", "name -> a public and a private address"),
    refused("http://dual6.test/", "name -> a public IPv6 and ::1"),
    refused("http://mapped.test/", "name -> ::ffff:127.0.0.1"),
    refused("http://nat64.test/", "name -> 64:ff9b::a00:5 (NAT64 of 10.0.0.5)"),
    refused("http://localhost.localdomain/", "name -> 127.0.0.1 (hosts file)"),
    refused("http://empty.test/", "name with no address", "no address"),
    refused("http://garbage.test/", "resolver answers a non-address", "not an address"),
    refused("http://nxdomain.test/", "name that does not resolve", "DNS lookup failed"),
    refused("http://" + "a" * 64 + ".example/", "a 64-character label (DNS refuses it)", "DNS lookup failed"),
    # --allow-hosts
    allowed("http://127.0.0.1:8080/", "allowed 127.0.0.1", allow=("127.0.0.1",)),
    allowed("http://2130706433/", "allowed 127.0.0.1, written in decimal", allow=("127.0.0.1",)),
    refused("http://127.0.0.2/", "allowed 127.0.0.1, another loopback address", allow=("127.0.0.1",)),
    refused("http://localhost/", "allowed 127.0.0.1, by name", allow=("127.0.0.1",)),
    allowed("http://LOCALHOST./x", "allowed localhost", allow=("localhost",)),
    refused("http://127.0.0.1/", "allowed localhost, by address", allow=("localhost",)),
    refused("http://app.localhost/", "allowed localhost, a subdomain", allow=("localhost",)),
    allowed("http://[0:0::1]/", "allowed [::1]", allow=("[::1]",)),
    allowed("http://[::1]:9/", "allowed ::1 without brackets", allow=("::1",)),
    allowed("http://rebind.test/", "allowed rebind.test (the user's choice)", allow=("rebind.test",)),
    refused("http://public.example@127.0.0.1/", "allowed public.example, userinfo trick", allow=("public.example",)),
    refused("http://127.0.0.1:8080/", "an entry with a port never matches", allow=("127.0.0.1:8080",)),
]
