"""Which URLs the model may make us open: public http(s) only, unless the user allows a host.

Refused: other schemes (file:// included), and hosts that are or resolve to loopback,
private, link-local (169.254.169.254), multicast, reserved or unspecified addresses,
however they are written (decimal, hex, IPv4-mapped IPv6). URLs typed by the user
(`fetch`, `/fetch`) are not checked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import trio

from .tools import ToolError

Resolver = Callable[[str], Awaitable[list[str]]]


async def resolve(host: str) -> list[str]:
    """The addresses `host` resolves to (the system resolver, off the event loop's back)."""
    try:
        infos = await trio.socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ToolError(f"DNS lookup failed for {host}") from exc
    return [info[4][0] for info in infos]


class UrlPolicy:
    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver = resolve) -> None:
        self.allow_hosts = {h.strip().lower().strip("[]") for h in allow_hosts if h.strip()}
        self._resolve = resolver

    async def check(self, url: str) -> None:
        """Raise ToolError unless the model may open `url`."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ToolError(f"refused: only http(s) URLs may be opened, not {parts.scheme or 'this'}: {url}")
        host = (parts.hostname or "").lower()
        if not host:
            raise ToolError(f"refused: no host in {url}")
        if host in self.allow_hosts:
            return
        literal = _as_ip(host)
        addresses = [literal] if literal is not None else [_as_ip(a) for a in await self._resolve(host)]
        for address in addresses:
            if address is None or not address.is_global or address.is_multicast:
                raise ToolError(
                    f"refused: {host} is a local or private address ({address}); "
                    "the user can allow it with --allow-hosts"
                )


def _as_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address written in any form browsers accept (1.2.3.4, 2130706433, 0x7f000001, [::1])."""
    text = host.strip("[]")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(text))  # decimal, hex, octal, short forms
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
