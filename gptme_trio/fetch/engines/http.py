"""The plain-HTTP engine: httpx for http(s), the filesystem for local files.

No JavaScript runs. httpx failures become NavigationError through core/network.py. A page that is
an empty JavaScript shell (scripts and no text, <noscript> text counting as text) is that URL's
ContentError, which suggests --engine browser, rather than an empty success.
"""

from __future__ import annotations

import json

import httpx

from gptme_trio.core.errors import ContentError, NavigationError, UsageError, os_reason
from gptme_trio.core.network import network_errors
from gptme_trio.fetch.engines import MAX_BODY_BYTES, Snapshot, from_body, local_snapshot
from gptme_trio.fetch.shell import is_script_shell
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
            return _readable(await local_snapshot(target, target.path))
        with network_errors(lambda failure: NavigationError(failure.reason, url=target.url)):
            async with self._client.stream("GET", target.url) as response:
                body = await _read_body(response, target.url)
        content_type = response.headers.get("content-type", "")
        return _readable(from_body(target.url, str(response.url), response.status_code, content_type, body))


async def _read_body(response: httpx.Response, url: str) -> bytes:
    """The body, or ContentError as soon as it passes MAX_BODY_BYTES (an endless body ends)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ContentError(f"the response is larger than {MAX_BODY_BYTES:,} bytes", url=url)
        chunks.append(chunk)
    return b"".join(chunks)


def _readable(snap: Snapshot) -> Snapshot:
    mime = snap.content_type.split(";")[0].strip().lower()
    if snap.html is not None and (not mime or "html" in mime) and is_script_shell(snap.html):
        raise ContentError(
            "the page is an empty JavaScript shell: its text is written by scripts, which the http engine "
            "does not run (try --engine browser)",
            url=snap.url,
        )
    return snap


def _cookies(storage_state: str) -> httpx.Cookies:
    try:
        with open(storage_state, encoding="utf-8") as fh:
            state = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--storage-state {storage_state}: {os_reason(exc)}") from exc
    jar = httpx.Cookies()
    for cookie in state.get("cookies", []):
        jar.set(cookie["name"], cookie["value"], domain=cookie.get("domain", ""), path=cookie.get("path", "/"))
    return jar
