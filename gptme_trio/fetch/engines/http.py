"""The plain-HTTP engine: httpx for http(s), the filesystem for local files.

No JavaScript runs. httpx exceptions are mapped into our error tree here.
"""

from __future__ import annotations

import json
import socket
import ssl

import httpx
import trio

from gptme_trio.core.errors import NavigationError, UsageError
from gptme_trio.fetch.engines import Snapshot, from_body
from gptme_trio.fetch.extract import is_pdf
from gptme_trio.fetch.targets import Target

MAX_REDIRECTS = 20


def open_client(headers: dict[str, str], user_agent: str | None, storage_state: str | None) -> httpx.AsyncClient:
    """An httpx client; the caller owns its lifetime (`async with`) and the deadlines."""
    all_headers = {"User-Agent": user_agent or f"gptme-trio (httpx {httpx.__version__})", **headers}
    return httpx.AsyncClient(
        headers=all_headers,
        cookies=_cookies(storage_state) if storage_state else None,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=None,  # deadlines are Trio cancel scopes set by the caller
    )


class HttpEngine:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def starts(self) -> int:
        return 0

    async def snapshot(self, target: Target) -> Snapshot:
        if target.path is not None:
            body = await trio.Path(target.path).read_bytes()
            content_type = "application/pdf" if is_pdf("", target.url) else ""
            return from_body(target.url, target.url, None, content_type, body)
        try:
            response = await self._client.get(target.url)
        except httpx.TooManyRedirects as exc:
            raise NavigationError("too many redirects", url=target.url) from exc
        except httpx.ConnectError as exc:
            raise NavigationError(connect_reason(exc), url=target.url) from exc
        except httpx.RemoteProtocolError as exc:
            raise NavigationError(f"connection closed by the server ({exc})", url=target.url) from exc
        except httpx.TransportError as exc:
            raise NavigationError(f"network error ({type(exc).__name__}: {exc})", url=target.url) from exc
        except httpx.InvalidURL as exc:
            raise NavigationError(f"invalid URL ({exc})", url=target.url) from exc
        content_type = response.headers.get("content-type", "")
        return from_body(target.url, str(response.url), response.status_code, content_type, response.content)


def connect_reason(exc: httpx.ConnectError) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError):
            return f"TLS error ({getattr(cause, 'verify_message', None) or cause.reason or cause})"
        if isinstance(cause, socket.gaierror):
            return "DNS lookup failed"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
    return f"connection failed ({exc})"


def _causes(exc: BaseException):
    """Every exception under `exc`: causes, contexts, and members of groups."""
    seen, stack = set(), [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(getattr(current, "exceptions", ()))
        stack.extend((current.__cause__, current.__context__))


def _cookies(storage_state: str) -> httpx.Cookies:
    try:
        with open(storage_state, encoding="utf-8") as fh:
            state = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--storage-state {storage_state}: {exc}") from exc
    jar = httpx.Cookies()
    for cookie in state.get("cookies", []):
        jar.set(cookie["name"], cookie["value"], domain=cookie.get("domain", ""), path=cookie.get("path", "/"))
    return jar
