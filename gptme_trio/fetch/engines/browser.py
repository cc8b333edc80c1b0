"""The browser engine: one URL -> Snapshot through the browser service."""

from __future__ import annotations

import copy
from pathlib import Path

import trio

from gptme_trio.core.browser import BrowserService, Page, PageOptions, Tabs
from gptme_trio.core.errors import ContentError, DownloadResponse
from gptme_trio.fetch.engines import RenderOptions, Snapshot, from_body, local_snapshot, read_local
from gptme_trio.fetch.extract import is_pdf, title_of
from gptme_trio.fetch.targets import Target


def settle_seconds(cap_ms: int) -> float:
    """How long a page may take to settle: `cap_ms`, and at most half of what is left of the
    caller's deadline, so that a page that never goes quiet still returns its content in time."""
    left = trio.current_effective_deadline() - trio.current_time()
    return max(0.0, min(cap_ms / 1000, left / 2))


class BrowserEngine:
    """Renders each URL in a reused tab (see `BrowserService.tabs`): one per concurrent caller."""

    def __init__(self, service: BrowserService, page_options: PageOptions, render: RenderOptions) -> None:
        self._service = service
        self._tabs = service.tabs(page_options)
        self._render = render

    @property
    def tabs(self) -> Tabs:
        """The reused tabs it renders in."""
        return self._tabs

    def starts(self) -> int:
        return self._service.starts

    def rendering(self, render: RenderOptions) -> BrowserEngine:
        """An engine on the same reused tabs that loads pages another way (one call's own --wait-for, --js)."""
        engine = copy.copy(self)
        engine._render = render
        return engine

    async def snapshot(self, target: Target) -> Snapshot:
        render = self._render
        if target.path is not None and not target.path.is_file():
            return await self._special(target, target.path)
        async with self._tabs.page() as page:
            if is_pdf("", target.url):
                if target.path is not None:  # a local PDF: no need to render it
                    body = await read_local(target.path, target.url)
                    return _pdf(Snapshot(target.url, target.url, None, "application/pdf"), body, render)
                status, content_type, body = await page.download(target.url)
                snap = Snapshot(target.url, target.url, status, content_type, console=page.console)
                return _pdf(snap, body, render)
            wait_until = "load" if render.wait_until == "networkidle" else render.wait_until
            try:
                nav = await page.goto(target.url, wait_until=wait_until)
            except DownloadResponse as exc:
                return await self._download(page, target, exc)
            snap = Snapshot(target.url, nav.final_url, nav.status, nav.content_type, console=page.console)
            if is_pdf(nav.content_type, target.url):
                return _pdf(snap, (await page.download(nav.final_url))[2], render)
            if snap.status is not None and snap.status >= 400:
                snap.html = await page.document(frames=render.frames)  # the caller decides if this is an error
                return snap
            if render.wait_until == "networkidle":
                await page.wait_for_load_state("networkidle")
            if render.wait_for:
                await page.wait_for_selector(render.wait_for)
            settle = settle_seconds(render.settle_ms)
            if render.js or render.capture != "html":
                await page.settle(settle)
                settle = 0  # done: else the document read settles first (one script, a round trip less)
            if render.js:
                snap.js_result = await page.evaluate_json(render.js, render.js_max_bytes)
            if render.capture == "png":
                snap.capture = await page.screenshot(full_page=render.full_page)
            elif render.capture == "pdf":
                snap.capture = await page.pdf()
            elif render.capture == "aria":
                snap.capture = (await page.aria_snapshot()).encode()
            else:
                snap.html = await page.document(frames=render.frames, settle=settle)
            # The serialized DOM holds the current <title>: reading it here saves a round trip per page.
            snap.title = title_of(snap.html) if snap.html is not None else await page.title()
            snap.final_url = page.url
            return snap

    async def _special(self, target: Target, path: Path) -> Snapshot:
        """A pipe, FIFO or device (/dev/stdin, <(...)): Chromium would wait on it with no deadline
        of ours, so it is read here, bounded, and its text taken as the http engine takes it."""
        if self._render.capture != "html":
            raise ContentError(
                f"cannot make a {self._render.capture} of a pipe or device: save it to a file first", url=target.url
            )
        return await local_snapshot(target, path)

    async def _download(self, page: Page, target: Target, exc: DownloadResponse) -> Snapshot:
        """A URL Chromium downloads instead of showing (Content-Disposition: attachment, a type it
        cannot display; a PDF, in the headless shell) is read as the http engine reads it: HTML, text
        and PDF become content, and a PDF is what -f pdf saves."""
        if target.path is not None:  # a local file of a type Chromium would download
            if self._render.capture != "html":
                raise ContentError(f"a file Chromium does not show: no {self._render.capture} of it", url=target.url)
            snap = await local_snapshot(target, target.path)
            snap.console = page.console
            return snap
        status, content_type, body = await page.download(target.url)
        if is_pdf(content_type or "", target.url):
            snap = Snapshot(target.url, target.url, status, content_type, console=page.console)
            return _pdf(snap, body, self._render)
        if self._render.capture != "html":
            raise ContentError(
                f"the server sent a download, not a page: no {self._render.capture} of it", url=target.url
            ) from exc
        snap = from_body(target.url, target.url, status, content_type, body)
        snap.console = page.console
        return snap


def _pdf(snap: Snapshot, body: bytes, render: RenderOptions) -> Snapshot:
    """A PDF document, as its bytes: its text is extracted from them (-f text...), -f pdf is the file
    itself. Headless Chromium has no PDF viewer, so a png of it would be a blank page: an error."""
    if render.capture == "html":
        snap.body = body
    elif render.capture == "pdf":
        snap.capture = body
    else:
        raise ContentError(
            f"cannot make a {render.capture} of a PDF (headless Chromium has no PDF viewer): "
            "-f pdf saves the file, -f text or markdown its text",
            url=snap.url,
        )
    return snap
