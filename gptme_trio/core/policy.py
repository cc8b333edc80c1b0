"""Which URLs the model may make us open: public http(s) only, unless the user allows a host.

Refused: other schemes (file:// included), and hosts that are or resolve to loopback,
private, link-local (169.254.169.254), multicast, reserved or unspecified addresses,
however they are written (decimal, hex, octal, short forms, percent-encoded or full-width
digits, a trailing dot, IPv4-mapped/compatible, NAT64 or 6to4 IPv6), `localhost` and
`*.localhost`. The host is read the way Chromium reads it (a backslash ends the host
like a slash, the WHATWG IPv4 rules), so the policy and the browser agree on which host
is meant. URLs typed by the user (`fetch`, `/fetch`) are not checked. A refusal is `Refused`
carrying a `Refusal` (its kind and fields: scheme, host, address and its class).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import unquote, urlsplit

import idna
import trio

from gptme_trio.core.errors import AddressClass, LookupFailed, Refusal, RefusalKind, Refused

Resolver = Callable[[str], Awaitable[list[str]]]  # raises LookupFailed
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: local use only
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_FORBIDDEN = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")  # WHATWG forbidden domain code points (and %)


async def resolve(host: str) -> list[str]:
    """The addresses `host` resolves to (the system resolver, off the event loop's back)."""
    try:
        infos = await trio.socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # gaierror; a label the IDNA codec refuses
        raise LookupFailed(Refusal(RefusalKind.LOOKUP, host=host)) from exc
    return [str(info[4][0]) for info in infos]


class UrlPolicy:
    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver = resolve) -> None:
        self.allow_hosts: set[str] = set()
        for entry in allow_hosts:
            try:
                self.allow_hosts.add(_canonical(entry.strip().lower()))
            except ValueError:
                continue  # never matches anything the browser could open
        self._resolve = resolver

    async def check(self, url: str) -> None:
        """Raise Refused unless the model may open `url`."""
        host = host_of(url)
        if host not in self.allow_hosts:
            await self.addresses(host)

    async def addresses(self, host: str) -> list[Address]:
        """The addresses a connection to `host` (canonical, see `host_of`) may go to: resolved once,
        every one checked (the user's allowed hosts are not). The policy proxy connects only to these,
        so a DNS answer that changes after the check is never used. Refused if refused;
        LookupFailed if the name does not resolve."""
        literal = _as_ip(host)
        if literal is not None:
            addresses = [literal]
        elif host == "localhost" or host.endswith(".localhost"):
            addresses = [ipaddress.IPv4Address("127.0.0.1")]  # Chromium answers these itself, without DNS
        else:
            answers = await self._resolve(host)
            if not answers:
                raise LookupFailed(Refusal(RefusalKind.NO_ADDRESS, host=host))
            parsed = [_as_ip(a) for a in answers]
            if None in parsed:
                raise Refused(Refusal(RefusalKind.NOT_AN_ADDRESS, host=host, answers=tuple(answers)))
            addresses = [a for a in parsed if a is not None]
        if host in self.allow_hosts:
            return addresses
        for address in addresses:
            if not _is_public(address):
                refusal = Refusal(RefusalKind.ADDRESS, host=host, address=address, address_class=address_class(address))
                raise Refused(refusal)
        return addresses


def host_of(url: str) -> str:
    """The canonical host Chromium would connect to for an http(s) `url`, or Refused."""
    text = url.strip(_C0_AND_SPACE)  # as the browser does
    scheme = text.partition(":")[0].lower()
    if scheme not in ("http", "https"):
        shown = scheme if scheme and ":" in text and re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) else "this"
        raise Refused(Refusal(RefusalKind.SCHEME, url=url, scheme=shown))
    try:
        parts = urlsplit(text.replace("\\", "/"))  # special schemes: a backslash is a slash
        raw = parts.hostname or ""
    except ValueError as exc:
        raise Refused(Refusal(RefusalKind.MALFORMED_URL, url=url, detail=str(exc))) from exc
    if not raw:
        raise Refused(Refusal(RefusalKind.NO_HOST, url=url))
    try:
        return _canonical(raw, bracketed=parts.netloc.rpartition("@")[2].startswith("["))
    except ValueError as exc:
        raise Refused(Refusal(RefusalKind.MALFORMED_HOST, url=url, detail=str(exc))) from exc


def _canonical(host: str, bracketed: bool | None = None) -> str:
    """`host` as the browser reads it: IPs in their standard form, names as lower-case ASCII."""
    if bracketed or (bracketed is None and host.startswith("[")):
        text = host.strip("[]")
        if "%" in text:
            raise ValueError("IPv6 zone ids are not allowed in URLs")
        return str(ipaddress.IPv6Address(text))
    if bracketed is None and ":" in host:  # an --allow-hosts entry written without brackets
        return str(ipaddress.IPv6Address(host))
    text = unquote(host)  # the browser decodes %-escapes in hosts
    if not text.isascii():  # UTS 46 as browsers do: full-width digits, ideographic dots, IDNs
        try:
            text = idna.encode(text, uts46=True, transitional=False, std3_rules=False).decode("ascii")
        except UnicodeError as exc:  # idna.IDNAError too
            raise ValueError(f"not a valid host name: {exc}") from exc
    text = text.lower()
    if _FORBIDDEN.search(text):
        raise ValueError("forbidden character in host")
    address = _ipv4(text)
    if address is not None:
        return str(address)
    return text[:-1] if text.endswith(".") else text


def _ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The WHATWG IPv4 parser: None for a domain; ValueError for a host that ends in a number but is no IPv4."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not re.fullmatch(r"[0-9]+|0[xX][0-9A-Fa-f]*", parts[-1]):
        return None
    if len(parts) > 4:
        raise ValueError("not an IPv4 address")
    numbers = []
    for part in parts:
        if re.fullmatch(r"0[xX][0-9A-Fa-f]*", part):
            numbers.append(int(part[2:] or "0", 16))
        elif re.fullmatch(r"0[0-7]+", part):
            numbers.append(int(part, 8))
        elif re.fullmatch(r"[1-9][0-9]*|0", part):
            numbers.append(int(part))
        else:
            raise ValueError("not an IPv4 address")
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError("IPv4 address out of range")
    return ipaddress.IPv4Address(sum(n << (8 * (3 - i)) for i, n in enumerate(head)) + last)


def _as_ip(host: str) -> Address | None:
    """`host` as an IP address if it is one (already canonical: see `_canonical`)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_public(address: Address) -> bool:
    """A global unicast address, also once any IPv4 address embedded in an IPv6 one is taken out."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return True
    if address in _NAT64_LOCAL:
        return False
    embedded = address.ipv4_mapped or address.sixtofour
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return embedded is None or _is_public(embedded)


def address_class(address: Address) -> AddressClass:
    """The class of a non-public address (see `_is_public`), by its embedded IPv4 address if it has one."""
    if address.is_unspecified:
        return AddressClass.UNSPECIFIED
    if address.is_loopback:
        return AddressClass.LOOPBACK
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if address in _NAT64 or address in _IPV4_COMPATIBLE:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not _is_public(embedded):
            return address_class(embedded)
    if address.is_link_local:
        return AddressClass.LINK_LOCAL
    if address.is_multicast:
        return AddressClass.MULTICAST
    if address.is_reserved:
        return AddressClass.RESERVED
    if address.is_private:
        return AddressClass.PRIVATE
    return AddressClass.NOT_GLOBAL
