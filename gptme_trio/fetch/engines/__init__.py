"""Engines turn one URL into a Snapshot: what the page was, before any extraction.

    browser.BrowserEngine   Chromium through the browser service: runs JavaScript
    http.HttpEngine         httpx (and local files): no JavaScript, fast

Both raise only `gptme_trio.core.errors.FetchError` subclasses; deadlines come from
the caller's cancel scope.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gptme_trio.core.errors import ContentError, os_reason
from gptme_trio.core.reading import read_limited
from gptme_trio.fetch.extract import decode_html, is_html_or_text, is_pdf, title_of
from gptme_trio.fetch.options import RenderOptions as RenderOptions
from gptme_trio.fetch.targets import Target


@dataclass
class Snapshot:
    url: str
    final_url: str
    status: int | None
    content_type: str = ""
    html: str | None = None  # rendered DOM, or the decoded body
    body: bytes | None = None  # raw bytes when the response is not HTML (PDF)
    capture: bytes | None = None  # png/pdf bytes, or the aria snapshot (UTF-8)
    title: str = ""
    console: list[dict[str, str]] = field(default_factory=list)
    js_result: Any = None


class Engine(Protocol):
    async def snapshot(self, target: Target) -> Snapshot: ...

    def starts(self) -> int:
        """Browsers started so far (0 without one): a deadline that passes after it changed says so."""
        ...


MAX_BODY_BYTES = 100_000_000  # a page, PDF or local file larger than this is that URL's error


async def read_local(path: Path, url: str) -> bytes:
    """A local file's bytes, bounded by MAX_BODY_BYTES; a FIFO, pipe or device is read as it
    comes, under the caller's deadline (core/reading.py). Failures are that URL's ContentError."""
    try:
        return await read_limited(path, MAX_BODY_BYTES)
    except OSError as exc:
        raise ContentError(f"cannot read {path}: {os_reason(exc)}", url=url) from exc


async def local_snapshot(target: Target, path: Path) -> Snapshot:
    """A local file read as the http engine reads a response: its type from its name (a .zip is
    no page), else its bytes decoded as HTML or text."""
    content_type = mimetypes.guess_type(path.name)[0] or ""
    return from_body(target.url, target.url, None, content_type, await read_local(path, target.url))


def from_body(url: str, final_url: str, status: int | None, content_type: str, body: bytes) -> Snapshot:
    """A response read without rendering it (the http engine; a download in the browser): a PDF,
    HTML or text decoded by its charset, or ContentError for anything else."""
    if is_pdf(content_type, final_url):
        return Snapshot(url, final_url, status, content_type, body=body)
    if not is_html_or_text(content_type):
        mime = content_type.split(";")[0]
        raise ContentError(f"cannot extract text from {mime} content", url=url)
    html = decode_html(body, content_type)
    return Snapshot(url, final_url, status, content_type, html=html, title=title_of(html))
